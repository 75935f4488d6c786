"""Hypothesis properties: snapshots round-trip losslessly; SIS CSV cells never start a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.canvas.current import Columns
from reconcile.canvas.sis_export import write_sis_csv
from reconcile.canvas.snapshot import read_snapshot, write_snapshot
from reconcile.frames import CANVAS_STATES

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
optional_text = st.none() | texts
ids = st.integers(min_value=1, max_value=2**53)
times = st.none() | st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(dt.timezone.utc)
).map(lambda t: t.isoformat().replace("+00:00", "Z"))

enrollment = st.fixed_dictionaries(
    {
        "id": ids,
        "course_id": ids,
        "course_section_id": ids,
        "user_id": ids,
        "type": st.sampled_from(
            ["StudentEnrollment", "TeacherEnrollment", "ObserverEnrollment", "StudentViewEnrollment"]
        ),
        "role": st.sampled_from(["StudentEnrollment", "TeacherEnrollment", "Grader", "=cmd|' /C calc'!A0"]),
        "role_id": st.none() | ids,
        "enrollment_state": st.sampled_from(CANVAS_STATES),
        "start_at": times,
        "end_at": times,
        "updated_at": times,
        "limit_privileges_to_course_section": st.none() | st.booleans(),
        "associated_user_id": st.none() | ids,
        "sis_course_id": optional_text,
        "sis_section_id": optional_text,
        "sis_user_id": optional_text,
        "user": st.fixed_dictionaries(
            {"name": optional_text, "login_id": optional_text, "integration_id": optional_text}
        ),
    }
)


def frame_of(items: list[dict[str, object]]) -> pd.DataFrame:
    columns = Columns()
    columns.add("sis_course_id:X,1", items)  # type: ignore[arg-type]
    return columns.frame()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(enrollment, max_size=8))
def test_snapshot_round_trips(tmp_path_factory, items: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    frame = frame_of(items)
    path = tmp_path_factory.mktemp("snap") / "s.json"
    with path.open("w", encoding="utf-8") as fh:
        write_snapshot(frame, fh)
    back = read_snapshot(path)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), frame.reset_index(drop=True), check_index_type=False
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(enrollment, max_size=8, unique_by=lambda e: e["id"]))  # ids are Canvas's primary key
def test_sis_csv_cells_never_start_a_formula(items: list[dict[str, object]]) -> None:
    out = io.StringIO()
    written, skipped = write_sis_csv(frame_of(items), out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(rows) == written + 1 and written + skipped == len(items)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
