"""Everything a live plan reads from Canvas, gathered in one place (not pure: it calls the client).

The planner is pure and must not learn where its state came from; this module is the I/O
step in front of it for a live plan:

1. the enrollments of every course in scope (``CanvasClient.fetch_current``);
2. roster refs no fetched enrollment shows, checked against the Users and Sections APIs
   (issue #11, :mod:`reconcile.planner.lookups`): unknown ones become warnings, not enrolls;
3. sections the roster names under a course they were cross-listed away from (facts §14.2):
   their enrollments are fetched where they are now and accounted under the roster's course
   (:func:`reconcile.canvas.state.with_sections`), and sectionless new enrollments of such a
   course go to a section still in it (or are a roster error when none is left);
4. observer links, when observers are in scope (facts §14.1): observer rows Canvas keeps in
   step with a link are marked ``linked`` (Canvas's, never the tool's to change), and the
   links are handed to the planner, which leaves roster rows a link already provides alone
   and shows which student operations Canvas will mirror onto linked observers.

What was fetched beyond the plain course lists is recorded in the plan
(``policy.scope.fetch``) so apply's stale check fetches the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reconcile.plan import PlanWarning
from reconcile.planner.lookups import Lookups, to_check
from reconcile.planner.scope import Scope
from reconcile.roster.problems import Problem


@dataclass
class LiveState:
    current: pd.DataFrame
    lookups: Lookups = field(default_factory=Lookups)
    links: frozenset[tuple[int, int]] = frozenset()
    fetched_with: dict[str, Any] = field(default_factory=dict)
    warnings: list[PlanWarning] = field(default_factory=list)
    # course ref -> section ref for new enrollments from rows without a section
    placement: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # roster rows no section can take
    crosslisted: frozenset[int] = frozenset()  # ids of sections accounted under a course they left
    course_dates: pd.DataFrame | None = None  # planner.dates.COURSE_COLUMNS, per course in scope
    section_dates: pd.DataFrame | None = None  # planner.dates.SECTION_COLUMNS, where they can matter


def gather(
    client: Any,
    desired: pd.DataFrame,
    scope: Scope,
    *,
    custom_roles: dict[str, str | None] | None = None,
    account: str = "self",
    now: Any = None,
    on_progress: Callable[[int, int], None] | None = None,
    course_states: dict[str, Any] | None = None,
) -> LiveState:
    """Read what a plan of ``desired`` over ``scope`` needs from Canvas (see the module docstring).
    ``course_states`` (ref -> ``CourseState``), when already read, saves reading them again."""
    from reconcile.canvas import lookups as canvas_lookups
    from reconcile.canvas import state

    current = client.fetch_current(list(scope.courses), on_progress=on_progress)
    live = LiveState(current=current)
    if not hasattr(client, "transport"):  # a test double with fetch_current only
        return live
    needs = to_check(desired, current, scope.courses)
    answers = canvas_lookups.UserAnswers()
    if needs.users:
        known = current["user_id"].dropna().astype("int64").drop_duplicates().head(50).tolist()
        answers = canvas_lookups.look_up_users(client, needs.users, known_user_ids=known)
        if answers.undecided:
            answers = _in_courses(client, desired, scope, needs.users, answers)
    unknown_sections: set[tuple[str, str]] = set()
    moved: dict[str, list[Any]] = {}  # course ref -> Section records cross-listed away from it
    listed: dict[str, list[Any]] = {}
    if needs.sections:
        listed = canvas_lookups.sections_of(client, needs.sections)
        elsewhere = [
            (course, ref)
            for course, refs in needs.sections.items()
            for ref in refs
            if not any(_section_is(section, ref) for section in listed[course])
        ]
        found = canvas_lookups.find_sections(client, [ref for _, ref in elsewhere])
        for course, ref in elsewhere:
            section = found[ref]
            if section is not None and section.nonxlist_course_id in _course_ids(
                client, current, listed, course
            ):
                moved.setdefault(course, []).append(section)
            else:
                unknown_sections.add((course, ref))
    live.lookups = Lookups(
        unknown_users=answers.missing,
        unknown_sections=frozenset(unknown_sections),
        users_undecided=answers.undecided,
        user_ids=dict(answers.found),
    )
    if moved:
        sections = {
            course: sorted({s.id for s in found_here}) for course, found_here in sorted(moved.items())
        }
        live.current = state.with_sections(client, live.current, sections)
        live.fetched_with["sections"] = sections
        live.crosslisted = frozenset(s for ids in sections.values() for s in ids)
        for course, found_here in sorted(moved.items()):
            for section in sorted(found_here, key=lambda s: s.id):
                live.warnings.append(_crosslisted_warning(course, section))
        _place_sectionless(live, desired, listed, moved)
    _dates(client, live, desired, scope, listed, account=account, now=now, states=course_states)
    if observers_in_scope(scope, custom_roles or {}):
        observers = _desired_observer_ids(desired, live.current, live.lookups.user_ids)
        live.current, links = state.fetch_links(client, live.current, observers)
        live.links = links.pairs
        live.fetched_with["links"] = True
        if links.unreadable:
            live.warnings.append(
                PlanWarning(
                    code="observer_links_unreadable",
                    message="this token may not read observer links (GET /api/v1/users/:id/observees needs an "
                    "account admin), so observer enrollments Canvas keeps in step with a parent's link cannot "
                    "be told from the roster's own: they are planned like any other observer row",
                )
            )
    return live


def _in_courses(client: Any, desired: pd.DataFrame, scope: Scope, refs: Sequence[str], answers: Any) -> Any:
    """What a token that may not look users up can still learn, course by course: whether the
    user exists, and their Canvas id when they are enrolled there (under any of their logins)."""
    from reconcile.canvas import lookups as canvas_lookups

    wanted = set(refs) - set(answers.found)
    rows = desired[desired["course"].isin(list(scope.courses))]
    pairs: set[tuple[str, str]] = set()
    for column in ("user", "associated_user"):
        named = rows[rows[column].isin(list(wanted))]
        pairs |= set(zip(named["course"].astype(str), named[column].astype(str), strict=True))
    found = dict(answers.found)
    missing: set[str] = set()
    for (_, ref), uid in sorted(canvas_lookups.look_up_in_courses(client, sorted(pairs)).items()):
        if uid is None:
            missing.add(ref)
        elif uid >= 0:
            found[ref] = uid
    return canvas_lookups.UserAnswers(found=found, missing=frozenset(missing - set(found)))


def _dates(
    client: Any,
    live: LiveState,
    desired: pd.DataFrame,
    scope: Scope,
    listed: dict[str, list[Any]],
    *,
    account: str,
    now: Any,
    states: dict[str, Any] | None = None,
) -> None:
    """Each course's state and dates with its term's (facts §7.4, §7.5, §14.4), and the dates of
    sections where they can change a decision: in concluded courses (a section still open takes
    a POST) and where the roster wants an invitation (only an enrollment not active by date can
    be turned back into one). Other sections' dates could only change warnings, so they are not
    fetched (one more request per course)."""
    from reconcile.canvas import lookups as canvas_lookups
    from reconcile.frames import conform
    from reconcile.planner.dates import SECTION_COLUMNS, concluded_courses
    from reconcile.planner.keys import as_utc

    if states is None:
        states = canvas_lookups.course_states(client, list(scope.courses), account=account)
    else:
        states = {ref: state for ref, state in states.items() if ref in scope.courses}
    if not states:
        return
    live.course_dates = course_dates_frame(states)
    now_us = int(as_utc(now or pd.Timestamp.now(tz="UTC")).value // 1000)
    wanted = set(concluded_courses(live.course_dates, now_us))
    wanted |= set(desired.loc[desired["status"] == "invited", "course"].dropna().tolist()) & set(
        scope.courses
    )
    if not wanted:
        return
    missing = sorted(c for c in wanted if c not in listed)
    sections = {
        **{c: listed[c] for c in wanted if c in listed},
        **canvas_lookups.sections_of(client, missing),
    }
    rows = [
        {
            "section_id": section.id,
            "sis_section_id": section.sis_section_id,
            "start_at": section.start_at,
            "end_at": section.end_at,
            "restrict_enrollments_to_section_dates": bool(section.restrict_enrollments_to_section_dates),
        }
        for found in sections.values()
        for section in found
    ]
    if rows:
        live.section_dates = conform(pd.DataFrame(rows), {**SECTION_COLUMNS, "sis_section_id": "string"})


def course_dates_frame(states: dict[str, Any]) -> pd.DataFrame | None:
    """``planner.dates.COURSE_COLUMNS`` of ``states`` (course ref -> ``CourseState``); None when empty."""
    from reconcile.frames import conform
    from reconcile.planner.dates import COURSE_COLUMNS

    if not states:
        return None
    frame = pd.DataFrame(
        [
            {
                "course_ref": ref,
                "workflow_state": state.workflow_state,
                "start_at": state.start_at,
                "end_at": state.end_at,
                "restrict_enrollments_to_course_dates": state.restrict_enrollments_to_course_dates,
                "term_start_at": state.term_start_at,
                "term_end_at": state.term_end_at,
            }
            for ref, state in states.items()
        ]
    )
    return conform(frame, COURSE_COLUMNS)


def _section_is(section: Any, ref: str) -> bool:
    from reconcile import ids

    column, value = ids.split_ref(ref)
    if column == "id":
        return str(section.id) == value
    if column == "sis_section_id":
        return section.sis_section_id == value
    if column == "sis_integration_id":
        return section.integration_id == value
    return True  # a form the Sections API does not show: leave it to Canvas


def _course_ids(client: Any, current: pd.DataFrame, listed: dict[str, list[Any]], course: str) -> set[int]:
    """The Canvas id of ``course`` (a ref), from what was already read, else one GET."""
    from reconcile.canvas.refs import segment

    ids = {int(s.course_id) for s in listed.get(course, [])}
    ids |= set(current.loc[current["course_ref"] == course, "course_id"].dropna().astype("int64").tolist())
    if not ids:
        ids.add(int(client._get(f"/api/v1/courses/{segment(course)}")["id"]))
    return ids


def _crosslisted_warning(course: str, section: Any) -> PlanWarning:
    name = f"sis_section_id:{section.sis_section_id}" if section.sis_section_id else str(section.id)
    into = (
        f"sis_course_id:{section.sis_course_id}" if section.sis_course_id else f"course {section.course_id}"
    )
    return PlanWarning(
        code="crosslisted_section",
        message=f"{name} is cross-listed into {into}: its enrollments are acted on there, and counted under "
        f"{course} as the roster names them",
        course=course,
    )


def _place_sectionless(
    live: LiveState, desired: pd.DataFrame, listed: dict[str, list[Any]], moved: dict[str, list[Any]]
) -> None:
    """A course with sections cross-listed away: Canvas would put a sectionless new enrollment into
    its default section, creating one if that too was cross-listed away. Name a section still in the
    course instead, or make each sectionless row an error when none is left."""
    for course in moved:
        sectionless = desired[(desired["course"] == course) & desired["section"].isna()]
        if sectionless.empty:
            continue
        remaining = sorted(listed.get(course, []), key=lambda s: s.id)
        if remaining:
            first = remaining[0]
            live.placement[course] = (
                f"sis_section_id:{first.sis_section_id}" if first.sis_section_id else str(first.id)
            )
            continue
        for row in sectionless.itertuples(index=False):
            live.problems.append(
                Problem(
                    severity="error",
                    file=str(row.origin_file),
                    row=None if pd.isna(row.origin_row) else str(row.origin_row),
                    column="section_id",
                    code="no_section_left",
                    message=f"{course} has no section of its own left (every one is cross-listed into another "
                    "course), so a row without a section cannot be placed: give the section",
                )
            )


def observers_in_scope(scope: Scope, custom_roles: dict[str, str | None]) -> bool:
    return any(
        role == "ObserverEnrollment" or custom_roles.get(role) == "ObserverEnrollment" for role in scope.roles
    )


def _desired_observer_ids(desired: pd.DataFrame, current: pd.DataFrame, found: dict[str, int]) -> list[int]:
    """Canvas ids of the roster's observers (rows with an observee), as far as they are known."""
    from reconcile.planner.match import resolve_users

    refs = pd.Series(desired.loc[desired["associated_user"].notna(), "user"].dropna().unique(), dtype=object)
    if refs.empty:
        return []
    ids = resolve_users(refs, current).fillna(refs.map(found).astype("Int64")).dropna()
    return sorted({int(i) for i in ids.tolist()})


# What each kind of operation needs of the token in the course (app/models/enrollment.rb, facts
# §5.1, §14.5): POST can_create_enrollment_for, DELETE conclude can_be_concluded_by, DELETE
# delete/inactivate and PUT reactivate can_be_deleted_by, PUT last_attended view/manage grades.
RIGHTS = ("manage_students", "manage_admin_users", "view_all_grades", "manage_grades")


def check_rights(client: Any, plan: Any, config: Any) -> Any:
    """``plan`` with a warning for each kind of operation the token may not make in a course
    (asked once per course with operations: ``GET /courses/:id/permissions``), and for each
    removal of the token's own enrollment (Canvas refuses it without account-level rights), so
    apply does not meet the 401s. A client without the call (a test double) changes nothing."""
    from reconcile.canvas import lookups as canvas_lookups
    from reconcile.planner import amend
    from reconcile.planner.permissions import rights_warnings

    if not plan.operations or not hasattr(client, "transport"):
        return plan
    courses = sorted({op.target.course for op in plan.operations})
    held = canvas_lookups.course_permissions(client, courses, RIGHTS)
    me = canvas_lookups.own_user_id(client)
    warnings = rights_warnings(plan, held, own_user_id=me, custom_roles=config.roster.custom_roles)
    return amend(plan, warnings) if warnings else plan


def users_named_twice(
    desired: pd.DataFrame, current: pd.DataFrame, found: dict[str, int]
) -> tuple[Problem, ...]:
    """One error per roster row that names, by another of their logins, a Canvas user another row
    already names for the same course, section, role and observee (facts §14.3): both rows would
    be planned against the one enrollment."""
    from reconcile.planner.match import resolve_users

    if desired.empty:
        return ()
    uid = resolve_users(desired["user"], current)
    if found:
        uid = uid.fillna(desired["user"].map(found).astype("Int64"))
    keyed = desired.assign(canvas_uid=uid)
    keyed = keyed[keyed["canvas_uid"].notna()]
    columns = ["course", "section", "canvas_uid", "role", "associated_user"]
    clash = keyed[keyed.duplicated(columns, keep=False)]
    if clash.empty:
        return ()
    problems = []
    for _, group in clash.groupby(columns, dropna=False, sort=True):
        first = group.iloc[0]
        for row in group.iloc[1:].itertuples(index=False):
            if row.user == first["user"]:
                continue  # the same spelling twice is the roster validator's duplicate, not ours
            problems.append(
                Problem(
                    severity="error",
                    file=str(row.origin_file),
                    row=None if pd.isna(row.origin_row) else str(row.origin_row),
                    column="user_id",
                    code="user_named_twice",
                    message=f"{row.user} and {first['user']} ({first['origin_file']}:{first['origin_row']}) are "
                    f"the same Canvas user (id {int(row.canvas_uid)}), in the same course, section and role: "
                    "name each person once",
                )
            )
    return tuple(problems)
