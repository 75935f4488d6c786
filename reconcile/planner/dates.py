"""What Canvas means by "active" today, and which courses take no more enrollments. Pure.

Canvas lists the raw workflow_state, but its decisions use the date-based effective state
(facts §7.3), with the dates EnrollmentDateBuilder picks (facts §7.4), first rule that
applies:

1. the enrollment's own start_at and end_at, only when both are set;
2. the section's dates, when it restricts enrollments to them (admin types: the term's too);
3. the course's dates, when it restricts enrollments to them (admin types: the term's too);
4. the term's dates;
5. none.

An active or invited row is then: completed when its course is; its workflow state inside
any of its ranges (or with none); completed once every range has ended; else pending
(students and observers) or inactive (teachers, TAs, designers) before its start.

A course is *concluded* (facts §7.5) when its workflow state is completed, or its own end
date has passed and it restricts enrollments to its dates, or else its term's end has
passed. Canvas refuses a POST into a concluded course unless a section is given, the user
already has an enrollment row in the course, and that section is not concluded (a section
with restricted dates and an end date ends then; any other section ends with its course).

Every array here is aligned with the current frame's rows; dates are int64 microseconds
with :data:`NAT` for "none" (``reconcile.planner.keys.micros``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.planner.keys import micros

NAT = np.iinfo("int64").min
ADMIN_TYPES = ("TeacherEnrollment", "TaEnrollment", "DesignerEnrollment")
COURSE_COLUMNS = {
    "course_ref": "string",
    "workflow_state": "string",
    "start_at": "datetime64[us, UTC]",
    "end_at": "datetime64[us, UTC]",
    "restrict_enrollments_to_course_dates": "boolean",
    "term_start_at": "datetime64[us, UTC]",
    "term_end_at": "datetime64[us, UTC]",
}
SECTION_COLUMNS = {
    "section_id": "Int64",
    "start_at": "datetime64[us, UTC]",
    "end_at": "datetime64[us, UTC]",
    "restrict_enrollments_to_section_dates": "boolean",
}


@dataclass(frozen=True)
class DateStates:
    """Per current row: ``active`` (active by date), ``pending`` (before its dates: Canvas treats
    it as pending, or inactive for admin types), ``ended`` (after them, or its course is
    completed), and the governing ``start``/``end`` (for messages)."""

    active: np.ndarray
    pending: np.ndarray
    ended: np.ndarray
    start: np.ndarray
    end: np.ndarray


def date_states(
    current: pd.DataFrame,
    now_us: int,
    *,
    courses: pd.DataFrame | None = None,
    sections: pd.DataFrame | None = None,
    states: np.ndarray | None = None,
) -> DateStates:
    """The effective-date view of every row of ``current`` (see the module docstring). Without
    ``courses`` only the enrollment's own dates count (a snapshot knows nothing else)."""
    n = len(current)
    own_start, own_end = micros(current["start_at"]), micros(current["end_at"])
    own = (own_start != NAT) & (own_end != NAT)
    start, end = np.where(own, own_start, NAT), np.where(own, own_end, NAT)
    start2, end2 = np.full(n, NAT, dtype="int64"), np.full(n, NAT, dtype="int64")
    completed_course = np.zeros(n, dtype=bool)
    if courses is not None and len(courses) and n:
        info = current[["course_ref"]].merge(courses, on="course_ref", how="left")
        term_start, term_end = micros(info["term_start_at"]), micros(info["term_end_at"])
        course_restrict = info["restrict_enrollments_to_course_dates"].fillna(False).to_numpy(dtype=bool)
        course_start, course_end = micros(info["start_at"]), micros(info["end_at"])
        completed_course = (info["workflow_state"] == "completed").fillna(False).to_numpy(dtype=bool)
        section_restrict = np.zeros(n, dtype=bool)
        section_start = section_end = np.full(n, NAT, dtype="int64")
        if sections is not None and len(sections):
            by_id = current[["course_section_id"]].merge(
                sections.rename(columns={"section_id": "course_section_id"}),
                on="course_section_id",
                how="left",
            )
            section_restrict = (
                by_id["restrict_enrollments_to_section_dates"].fillna(False).to_numpy(dtype=bool)
            )
            section_start, section_end = micros(by_id["start_at"]), micros(by_id["end_at"])
        admin = current["type"].isin(ADMIN_TYPES).to_numpy(dtype=bool)
        by_section = ~own & section_restrict
        by_course = ~own & ~section_restrict & course_restrict
        by_term = ~own & ~section_restrict & ~course_restrict
        start = np.select(
            [own, by_section, by_course, by_term], [own_start, section_start, course_start, term_start], NAT
        )
        end = np.select(
            [own, by_section, by_course, by_term], [own_end, section_end, course_end, term_end], NAT
        )
        also_term = admin & (by_section | by_course)
        start2, end2 = np.where(also_term, term_start, NAT), np.where(also_term, term_end, NAT)
    has1, has2 = (start != NAT) | (end != NAT), (start2 != NAT) | (end2 != NAT)
    within = (has1 & _inside(start, end, now_us)) | (has2 & _inside(start2, end2, now_us))
    ranged = has1 | has2
    all_ended = (
        ranged & (~has1 | ((end != NAT) & (now_us > end))) & (~has2 | ((end2 != NAT) & (now_us > end2)))
    )
    raw = current["state"].to_numpy(dtype=object) if states is None else states
    dated = np.isin(raw, ["active", "invited"])
    ended = dated & (completed_course | (ranged & ~within & all_ended))
    pending = dated & ~completed_course & ranged & ~within & ~all_ended
    active = (raw == "active") & ~ended & ~pending
    return DateStates(active=active, pending=pending, ended=ended, start=start, end=end)


def _inside(start: np.ndarray, end: np.ndarray, now_us: int) -> np.ndarray:
    return ((start == NAT) | (start <= now_us)) & ((end == NAT) | (now_us <= end))


def concluded_courses(courses: pd.DataFrame | None, now_us: int) -> dict[str, str]:
    """Course ref -> why it is concluded ("completed", or "ended on <date>"), for those that are."""
    if courses is None or courses.empty:
        return {}
    out: dict[str, str] = {}
    course_end, term_end = micros(courses["end_at"]), micros(courses["term_end_at"])
    restrict = courses["restrict_enrollments_to_course_dates"].fillna(False).to_numpy(dtype=bool)
    states = courses["workflow_state"].fillna("").to_numpy(dtype=object)
    for ref, state, limit, cend, tend in zip(
        courses["course_ref"].tolist(),
        states.tolist(),
        restrict.tolist(),
        course_end.tolist(),
        term_end.tolist(),
        strict=True,
    ):
        if state == "completed":
            out[str(ref)] = "concluded (its state is completed)"
        elif limit and cend != NAT:
            if now_us > cend:
                out[str(ref)] = (
                    f"concluded on {_day(cend)} (its end date; it restricts enrollments to its dates)"
                )
        elif tend != NAT and now_us > tend:
            out[str(ref)] = f"concluded on {_day(tend)} (its term ended)"
    return out


def open_sections(sections: pd.DataFrame | None, now_us: int) -> set[int]:
    """Ids of sections with restricted dates and an end date still to come: in a concluded course,
    only these take a POST (facts §7.5); any other section ends with its course."""
    if sections is None or sections.empty:
        return set()
    restrict = sections["restrict_enrollments_to_section_dates"].fillna(False).to_numpy(dtype=bool)
    end = micros(sections["end_at"])
    keep = restrict & (end != NAT) & (end >= now_us)
    return {int(s) for s in sections["section_id"].to_numpy(dtype="int64", na_value=-1)[keep].tolist()}


def _day(us: int) -> str:
    return pd.Timestamp(us, unit="us", tz="UTC").strftime("%Y-%m-%d")
