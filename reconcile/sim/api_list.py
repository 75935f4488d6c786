"""GET enrollment lists for a course, a section or a user (facts §1, §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from reconcile.sim import errors
from reconcile.sim.auth import CourseRights, account_rights
from reconcile.sim.context import Request, Response
from reconcile.sim.dates import effective_state
from reconcile.sim.model import ADMIN_TYPES, Enrollment
from reconcile.sim.pagination import LinkBase, bookmark_links, decode_page, encode_bookmark, per_page
from reconcile.sim.params import as_list, is_blank, value_to_boolean
from reconcile.sim.render import View, enrollment_fragment
from reconcile.sim.store import SortKey, Store

Filter = Callable[[Enrollment], bool]

SELF_STATES = {
    "active": ["active"],
    "inactive": ["inactive"],
    "rejected": ["rejected"],
    "invited": ["invited"],
    "creation_pending": ["creation_pending"],
    "pending_active": ["pending_active"],
    "pending_invited": ["pending_invited"],
    "completed": ["completed"],
    "current_and_invited": ["active", "invited"],
    "current_and_future": ["active", "invited", "creation_pending", "pending_active", "pending_invited"],
    "current_and_concluded": ["active", "completed"],
    "current_future_and_restricted": [
        "active",
        "invited",
        "creation_pending",
        "pending_active",
        "pending_invited",
        "inactive",
    ],
}
HIDDEN_FROM_ROSTER = frozenset({"rejected", "completed", "deleted"})
HIDDEN_FROM_NON_ADMIN = frozenset({"rejected", "completed", "deleted", "inactive"})
PUBLISHED = "available"


def list_course(req: Request) -> Response:
    course = req.course()
    return _list_in_course(req, course.id, None, f"courses/{req.raw_path_params['course_id']}")


def list_section(req: Request) -> Response:
    section = req.section()
    return _list_in_course(
        req, section.course_id, section.id, f"sections/{req.raw_path_params['section_id']}"
    )


def _state_param(req: Request) -> list[str] | None:
    raw = req.params.get("state")
    if raw is None:
        return None
    values = as_list(raw)
    if isinstance(raw, dict) or not all(isinstance(v, str) for v in values):
        raise errors.bad_request_generic()
    return values


def _list_in_course(req: Request, course_id: int, section_id: int | None, path: str) -> Response:
    store = req.store
    course = store.courses[course_id]
    rights = req.rights(course)
    filters: list[Filter] = [lambda e: e.course_id == course_id]
    states = _state_param(req)
    user_id_param = req.params.get("user_id")
    if not is_blank(user_id_param):
        user = store.find_user(str(user_id_param), caller_id=req.caller.user_id)
        if user is None:
            raise errors.not_found()
        if user.id != req.caller.user_id and not rights.read_roster:
            raise req.deny()
        filters += _user_state_filters(req, user.id, states)
        filters += _term_filter(req)
        rows = store.user_index.get(user.id, [])
    elif rights.read_roster:
        hidden = HIDDEN_FROM_ROSTER if rights.read_as_admin else HIDDEN_FROM_NON_ADMIN
        if states is not None:
            wanted = frozenset(states)
            filters.append(lambda e: e.workflow_state in wanted)
        else:
            filters.append(lambda e: e.workflow_state not in hidden)
        if rights.visible_sections is not None:
            visible = rights.visible_sections
            filters.append(lambda e: e.course_section_id in visible)
        if not rights.read_as_admin:
            # Only course staff and admins see the course's test student (Student View).
            filters.append(lambda e: e.type != "StudentViewEnrollment")
        rows = store.section_index[section_id] if section_id is not None else store.course_index[course_id]
    elif rights.observer:
        me, observees = req.caller.user_id, rights.observees
        filters.append(
            lambda e: (
                e.workflow_state != "deleted"
                and (e.user_id == me or (e.user_id in observees and e.type == "StudentEnrollment"))
            )
        )
        if states is not None:
            wanted = frozenset(states)
            filters.append(lambda e: e.workflow_state in wanted)
        rows = store.course_index[course_id]
    else:
        raise req.deny()
    if section_id is not None:
        filters.append(lambda e: e.course_section_id == section_id)
    filters += _common_filters(req, rights)
    context = ("section", section_id) if section_id is not None else ("course", course_id)
    return _page(req, rows, filters, rights, path, sis_context=context)


def list_user(req: Request) -> Response:
    store = req.store
    user = req.user()
    states = _state_param(req)
    if user.id != req.caller.user_id and not req.caller.admin:
        # an approved parent (read_as_parent: an active observer link, user.rb policy), or an
        # observer enrolled as this user's observer
        parent = user in store.linked_students(req.caller.user_id) or any(
            store.enrollments[k[2]].associated_user_id == user.id
            and store.enrollments[k[2]].workflow_state == "active"
            for k in store.user_index.get(req.caller.user_id, [])
        )
        if not parent:
            raise req.deny()
    filters = _user_state_filters(req, user.id, states)
    filters += _term_filter(req)
    rights = account_rights(store, req.caller) if req.caller.admin else CourseRights()
    filters += _common_filters(req, rights)
    rows = store.user_index.get(user.id, [])
    return _page(
        req, rows, filters, rights, f"users/{req.raw_path_params['user_id']}", per_course_rights=True
    )


def _user_state_filters(req: Request, user_id: int, states: list[str] | None) -> list[Filter]:
    """The per-user state logic (facts §1.1, §1.2): expanded states for self, raw for others."""
    store = req.store
    now = store.now()
    filters: list[Filter] = [
        lambda e: e.user_id == user_id and store.courses[e.course_id].workflow_state != "deleted"
    ]
    if user_id == req.caller.user_id:
        if states is not None:
            wanted: set[str] = set()
            for state in states:
                if state not in SELF_STATES:
                    raise errors.error(f"Invalid state {state}")
                wanted.update(SELF_STATES[state])
            filters.append(lambda e: _in_states(store, e, now, wanted))
        else:
            filters.append(lambda e: _current_and_invited(store, e, now))
    elif states is not None:
        # Someone else's enrollments: the state filter is the literal workflow_state.
        literal = frozenset(states)
        filters.append(lambda e: e.workflow_state in literal)
    else:
        filters.append(lambda e: e.workflow_state in ("active", "invited"))
    return filters


def _in_states(store: Store, e: Enrollment, now: Any, wanted: set[str]) -> bool:
    """The caller's own enrollments by date-based state, with QueryBuilder's course-state
    rule: active and invited count only in published courses (staff: any course)."""
    state = effective_state(store, e, now)
    if state not in wanted:
        return False
    if state in ("active", "invited"):
        return store.courses[e.course_id].workflow_state == PUBLISHED or e.type in ADMIN_TYPES
    return True


def _current_and_invited(store: Store, e: Enrollment, now: Any) -> bool:
    state = effective_state(store, e, now)
    published = store.courses[e.course_id].workflow_state == PUBLISHED
    if state == "active":
        return published or e.type in ADMIN_TYPES
    if state == "invited":
        return published or e.type in ADMIN_TYPES
    return False


def _term_filter(req: Request) -> list[Filter]:
    raw = req.params.get("enrollment_term_id")
    if is_blank(raw):
        return []
    term = req.store.find_term(str(raw))
    if term is None:
        raise errors.not_found()
    courses = req.store.courses
    return [lambda e: courses[e.course_id].enrollment_term_id == term.id]


def _common_filters(req: Request, rights: CourseRights) -> list[Filter]:
    """type[]/role[]/role_id, grading_period_id and the SIS filters (facts §1.1)."""
    store, params = req.store, req.params
    filters: list[Filter] = []
    role_ids = [str(v) for v in as_list(params.get("role_id")) if not is_blank(v)]
    role_names = [str(v) for v in as_list(params.get("role")) if not is_blank(v)]
    if role_ids:
        wanted_ids = {int(v) for v in role_ids if v.isdigit()}
        filters.append(lambda e: e.role_id in wanted_ids)
    elif role_names:
        resolved = set()
        for name in role_names:
            role = store.course_role_by_name(name)
            if role is None:
                raise errors.bad_request_generic()
            resolved.add(role.id)
        filters.append(lambda e: e.role_id in resolved)
    else:
        types = {str(v) for v in as_list(params.get("type")) if not is_blank(v)}
        if types:
            filters.append(lambda e: e.type in types)
    if not is_blank(params.get("grading_period_id")):
        # The simulated institution has no grading periods, so every id is invalid.
        raise errors.error("invalid grading_period_id")
    sis = {
        name: {str(v) for v in as_list(params.get(name)) if not is_blank(v)}
        for name in ("sis_account_id", "sis_course_id", "sis_section_id", "sis_user_id")
    }
    if any(sis.values()):
        if not rights.read_sis:
            raise errors.message("Insufficient permissions to filter by SIS fields")
        filters.append(_sis_filter(store, sis, value_to_boolean(params.get("created_for_sis_id")) is True))
    return filters


def _sis_filter(store: Store, sis: dict[str, set[str]], created_for_sis: bool) -> Filter:
    def keep(e: Enrollment) -> bool:
        course = store.courses[e.course_id]
        if (
            sis["sis_account_id"]
            and store.accounts[course.account_id].sis_account_id not in sis["sis_account_id"]
        ):
            return False
        if sis["sis_course_id"] and course.sis_course_id not in sis["sis_course_id"]:
            return False
        if (
            sis["sis_section_id"]
            and store.sections[e.course_section_id].sis_section_id not in sis["sis_section_id"]
        ):
            return False
        if sis["sis_user_id"]:
            # users whose active pseudonym has the SIS id; with created_for_sis_id, only rows
            # whose own sis_pseudonym has it (facts §1.1)
            if not any(
                p.sis_user_id in sis["sis_user_id"] and p.workflow_state != "deleted"
                for p in store.pseudonyms.get(e.user_id, ())
            ):
                return False
            if created_for_sis:
                own = store.pseudonym_by_id.get(e.sis_pseudonym_id) if e.sis_pseudonym_id else None
                if own is None or own.sis_user_id not in sis["sis_user_id"]:
                    return False
        return True

    return keep


def _page(
    req: Request,
    rows: list[SortKey],
    filters: list[Filter],
    rights: CourseRights,
    path: str,
    *,
    per_course_rights: bool = False,
    sis_context: tuple[str, int] | None = None,
) -> Response:
    store = req.store
    size = per_page(req.params)
    after = decode_page(req.params)
    found: list[Enrollment] = []
    more = False
    iterator: Iterator[Enrollment] = store.iter_from(rows, after)
    for e in iterator:
        if all(f(e) for f in filters):
            if len(found) == size:
                more = True
                break
            found.append(e)
    includes = frozenset(str(v) for v in as_list(req.params.get("include")))
    view = View(req.base_url, req.caller, rights, includes, with_user=True, sis_context=sis_context)
    views: dict[int, View] = {}  # per course, for a user list
    fragments = []
    for e in found:
        if per_course_rights:
            if e.course_id not in views:
                course_rights = req.rights(store.courses[e.course_id])
                views[e.course_id] = View(req.base_url, req.caller, course_rights, includes, with_user=True)
            fragments.append(enrollment_fragment(store, e, views[e.course_id]))
        else:
            fragments.append(enrollment_fragment(store, e, view))
    current = str(req.params.get("page") or "first")
    next_page = None
    if more:
        last = found[-1]
        next_page = encode_bookmark(store.sort_key(last), store.users[last.user_id].sortable_name)
    base = LinkBase(f"{req.base_url}/api/v1/{_escape_path(path)}/enrollments", req.query)
    return Response(
        None,
        headers={"Link": bookmark_links(base, size, current, next_page)},
        items=len(fragments),
        raw=("[" + ",".join(fragments) + "]").encode(),
    )


def _escape_path(path: str) -> str:
    # The raw segment is reused as received; only characters unsafe in a URL get escaped.
    return quote(path, safe="/:%@!$&'()*+,;=-._~")
