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

from collections.abc import Callable
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
    placement: dict[str, str] = field(
        default_factory=dict
    )  # course ref -> section ref for new sectionless rows
    problems: list[Problem] = field(default_factory=list)  # roster rows no section can take
    crosslisted: frozenset[int] = frozenset()  # ids of sections accounted under a course they left


def gather(
    client: Any,
    desired: pd.DataFrame,
    scope: Scope,
    *,
    custom_roles: dict[str, str | None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LiveState:
    """Read what a plan of ``desired`` over ``scope`` needs from Canvas (see the module docstring)."""
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
    if _observers_in_scope(scope, custom_roles or {}):
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


def _observers_in_scope(scope: Scope, custom_roles: dict[str, str | None]) -> bool:
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
