"""Asking Canvas about roster refs that no fetched enrollment shows, before anything is planned
for them (issue #11): does this user exist, is this a section of that course?

- Users: ``GET /api/v1/users/:ref`` for each ref (SIS, integration and login forms resolve
  through any of the user's logins, facts §9, §14.3). A 404 means "no such user" only when
  the token may see users at all: ``users_controller#api_show`` answers 404, not 403, to a
  caller without ``:api_show_user`` (an account admin's right; a teacher's token gets 404 for
  every user but itself). So the first 404 is checked against a user Canvas certainly has
  (one already enrolled in a fetched course): if that one is "not found" too, the token cannot
  tell, and the answer is *undecided* rather than "unknown".
- Sections: ``GET /api/v1/courses/:course/sections`` once per course that a roster row names
  a section of that no fetched enrollment shows; a section not listed is looked up by itself
  (``GET /api/v1/sections/:ref``), which finds it wherever it is now (facts §14.2).

Every request goes through the client's transport (one rate limiter, counted in its stats),
several at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconcile.canvas.errors import Forbidden, NotFound, Unauthorized
from reconcile.canvas.records import Section
from reconcile.canvas.refs import segment

if TYPE_CHECKING:
    from reconcile.canvas.client import CanvasClient


@dataclass(frozen=True)
class UserAnswers:
    """``found``: ref -> Canvas user id; ``missing``: refs Canvas says it does not have;
    ``undecided``: True when the token cannot see users, so ``missing`` is empty."""

    found: dict[str, int] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()
    undecided: bool = False


def look_up_users(client: CanvasClient, refs: Sequence[str], *, known_user_ids: Sequence[int]) -> UserAnswers:
    """What Canvas says of each user ref (see the module docstring). ``known_user_ids``: users
    Canvas certainly has (enrolled in a fetched course), to tell "no such user" from "this
    token may not see users"; the token's own user does not count, since anyone may see
    themselves."""
    if not refs:
        return UserAnswers()
    answers = _concurrently(client, lambda ref: _user_id(client, ref), refs)
    found = {ref: uid for ref, uid in answers.items() if uid is not None}
    missing = frozenset(ref for ref, uid in answers.items() if uid is None)
    if missing and not _may_see_users(client, known_user_ids, found.values()):
        return UserAnswers(found=found, undecided=True)
    return UserAnswers(found=found, missing=missing)


def _may_see_users(client: CanvasClient, known: Sequence[int], found: Iterable[int]) -> bool:
    me = _user_id(client, "self")
    if any(uid != me for uid in found):
        return True  # it just saw someone else
    probe = next((uid for uid in known if uid != me), None)
    return probe is not None and _user_id(client, str(probe)) is not None


def course_sections(client: CanvasClient, course: str) -> list[Section]:
    """Every active section of ``course`` as it is now (cross-listed ones in their new course).

    :calls: GET /api/v1/courses/:course_id/sections
    """
    path = f"/api/v1/courses/{segment(course)}/sections"
    return [Section.from_json(item) for item in client._list(path)]


def find_section(client: CanvasClient, ref: str) -> Section | None:
    """The section ``ref`` wherever it is now, or None when Canvas has no such (active) section.

    :calls: GET /api/v1/sections/:id
    """
    try:
        return Section.from_json(client._get(f"/api/v1/sections/{segment(ref)}"))
    except NotFound:
        return None


def sections_of(client: CanvasClient, courses: Iterable[str]) -> dict[str, list[Section]]:
    """:func:`course_sections` of several courses, concurrently."""
    return _concurrently(client, lambda course: course_sections(client, course), list(dict.fromkeys(courses)))


def find_sections(client: CanvasClient, refs: Iterable[str]) -> dict[str, Section | None]:
    """:func:`find_section` of several refs, concurrently."""
    return _concurrently(client, lambda ref: find_section(client, ref), list(dict.fromkeys(refs)))


def _user_id(client: CanvasClient, ref: str) -> int | None:
    try:
        data = client._get(f"/api/v1/users/{segment(ref)}")
    except NotFound:
        return None
    return int(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None


def _concurrently(client: CanvasClient, work: Any, items: Sequence[Any]) -> dict[Any, Any]:
    if len(items) <= 1:
        return {item: work(item) for item in items}
    with ThreadPoolExecutor(max_workers=min(client.concurrency, len(items))) as pool:
        return dict(zip(items, pool.map(work, items), strict=True))


@dataclass(frozen=True)
class CourseState:
    """What decides whether Canvas takes an enrollment into a course, and which dates govern it
    (facts §7.4, §7.5, §14.4): ``GET /courses/:id?include[]=term``."""

    id: int
    ref: str  # the ref the roster names the course by
    workflow_state: str | None  # unpublished | available | completed | deleted
    start_at: str | None
    end_at: str | None
    restrict_enrollments_to_course_dates: bool
    term_start_at: str | None
    term_end_at: str | None


def course_states(client: CanvasClient, refs: Sequence[str], *, account: str) -> dict[str, CourseState]:
    """The state of each course ``refs`` names, read the cheaper way: one ``GET /courses/:id``
    each, or the account's course list (100 a page) when that takes fewer requests. A course
    Canvas does not show is left out.

    :calls: GET /api/v1/courses/:id, GET /api/v1/accounts/:account_id/courses
    """
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    if len(wanted) > 2:
        listed = _from_account_list(client, wanted, account=account)
        if listed is not None:
            return listed
    answers = _concurrently(client, lambda ref: _course_state(client, ref), wanted)
    return {ref: state for ref, state in answers.items() if state is not None}


def _course_state(client: CanvasClient, ref: str) -> CourseState | None:
    try:
        data = client._get(f"/api/v1/courses/{segment(ref)}", {"include[]": ["term"]})
    except NotFound:
        return None
    return _state_of(ref, data)


def _state_of(ref: str, data: dict[str, Any]) -> CourseState:
    term = data.get("term") or {}
    return CourseState(
        id=int(data["id"]),
        ref=ref,
        workflow_state=data.get("workflow_state"),
        start_at=data.get("start_at"),
        end_at=data.get("end_at"),
        restrict_enrollments_to_course_dates=bool(data.get("restrict_enrollments_to_course_dates")),
        term_start_at=term.get("start_at"),
        term_end_at=term.get("end_at"),
    )


def _from_account_list(
    client: CanvasClient, refs: list[str], *, account: str
) -> dict[str, CourseState] | None:
    """The courses from the account's list when its page count (Link rel=last, after one request)
    is below the number of per-course requests; None when it is not, or Canvas does not say."""
    from reconcile.canvas.params import numbered_pages

    path = f"/api/v1/accounts/{segment(account)}/courses"
    try:
        first = client.transport.request(
            "GET", path, params={"include[]": ["term"], "per_page": 100, "state[]": ["all"]}
        )
    except (NotFound, Forbidden, Unauthorized):
        return None
    rest = numbered_pages(first.links)
    if rest is None and first.links.get("next"):
        return None  # no page count: cannot tell which way is cheaper
    if rest is not None and len(rest) + 1 > len(refs):
        return None
    items: list[dict[str, Any]] = list(first.data)
    if rest:
        for page in _concurrently(client, lambda url: client._get(url), rest).values():
            items.extend(page)
    by_ref: dict[str, dict[str, Any]] = {}
    for item in items:
        by_ref[str(item["id"])] = item
        if item.get("sis_course_id"):
            by_ref[f"sis_course_id:{item['sis_course_id']}"] = item
        if item.get("integration_id"):
            by_ref[f"sis_integration_id:{item['integration_id']}"] = item
    found = {ref: _state_of(ref, by_ref[ref]) for ref in refs if ref in by_ref}
    for ref in refs:  # a form the list cannot show (uuid...), or a course outside the account
        if ref not in found and (state := _course_state(client, ref)) is not None:
            found[ref] = state
    return found


def course_permissions(
    client: CanvasClient, courses: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, bool]]:
    """The token's rights in each course (``GET /courses/:id/permissions``), only ``names``.

    :calls: GET /api/v1/courses/:course_id/permissions
    """

    def one(course: str) -> dict[str, bool]:
        try:
            data = client._get(
                f"/api/v1/courses/{segment(course)}/permissions", {"permissions[]": list(names)}
            )
        except (NotFound, Forbidden, Unauthorized):
            return {}
        return {str(k): bool(v) for k, v in (data or {}).items()}

    return _concurrently(client, one, list(dict.fromkeys(courses)))


def own_user_id(client: CanvasClient) -> int | None:
    """The token's own Canvas user id (``GET /users/self``)."""
    return _user_id(client, "self")


def look_up_in_courses(
    client: CanvasClient, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int | None]:
    """For a token that may not look users up (a teacher's): each (course, user ref) through the
    course's enrollment list filtered by ``user_id`` (facts §1.1: resolved with ``api_find(User)``,
    so through any of the user's logins, and answered to anyone who may read the roster). The
    Canvas user id when the user has an enrollment there; -1 when Canvas has the user but not in
    that course; None when Canvas has no such user (404).

    :calls: GET /api/v1/courses/:course_id/enrollments?user_id=:ref
    """
    from reconcile.frames import CANVAS_STATES

    def one(pair: tuple[str, str]) -> int | None:
        course, ref = pair
        path = f"/api/v1/courses/{segment(course)}/enrollments"
        try:
            rows = client._get(path, {"user_id": ref, "state[]": list(CANVAS_STATES), "per_page": 1})
        except NotFound:
            return None
        except (Forbidden, Unauthorized):
            return -1
        return int(rows[0]["user_id"]) if rows else -1

    return _concurrently(client, one, list(dict.fromkeys(pairs)))
