"""Hypothesis: rows written as an SIS CSV (by the csv module, any quoting) read back equal."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.roster import csv_safe, load_rosters

ID = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Cf", "Co", "Cn")
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s == s.strip() and not s.lower().startswith("canvas:"))
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=timezone.utc)
)
ROW = st.fixed_dictionaries(
    {
        "course_id": ID,
        "section_id": st.one_of(st.just(""), ID),  # written as <course>/<section>: one course each
        "user_id": ID,
        "role": st.sampled_from(["student", "teacher", "ta", "designer"]),
        "status": st.sampled_from(
            ["active", "inactive", "completed", "deleted", "deleted_last_completed", "invited"]
        ),
        "dates": st.one_of(st.none(), st.tuples(WHEN, WHEN).map(sorted)),
        "limit_section_privileges": st.booleans(),
    }
)


def _csv(rows: list[dict[str, object]], quoting: int, newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, lineterminator=newline)
    writer.writerow(
        [
            "course_id",
            "section_id",
            "user_id",
            "role",
            "status",
            "start_date",
            "end_date",
            "limit_section_privileges",
        ]
    )
    for row in rows:
        dates = row["dates"] or ("", "")
        writer.writerow(
            [
                row["course_id"],
                f"{row['course_id']}/{row['section_id']}" if row["section_id"] else "",
                row["user_id"],
                row["role"],
                row["status"],
                *(d.isoformat().replace("+00:00", "Z") if d else "" for d in dates),  # type: ignore[union-attr]
                str(row["limit_section_privileges"]).lower(),
            ]
        )
    return buffer.getvalue().encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        ROW,
        min_size=1,
        max_size=25,
        unique_by=lambda r: (r["course_id"], r["section_id"], r["user_id"], r["role"]),
    ),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_sis_csv_round_trip(rows: list[dict[str, object]], quoting: int, newline: str) -> None:
    data = _csv(rows, quoting, newline)
    result = load_rosters([io.BytesIO(data)], format="sis-csv")
    assert result.ok, result.problems
    d = result.desired
    assert len(d) == len(rows)
    for got, want in zip(d.itertuples(), rows, strict=True):
        assert got.course == f"sis_course_id:{want['course_id']}"
        assert (
            pd.isna(got.section) and want["section_id"] == ""
        ) or got.section == f"sis_section_id:{want['course_id']}/{want['section_id']}"
        assert got.user == f"sis_user_id:{want['user_id']}"
        assert (
            got.role
            == {
                "student": "StudentEnrollment",
                "teacher": "TeacherEnrollment",
                "ta": "TaEnrollment",
                "designer": "DesignerEnrollment",
            }[str(want["role"])]
        )
        assert got.status == want["status"]
        if want["dates"]:
            start, end = want["dates"]  # type: ignore[misc]
            assert (got.start_at, got.end_at) == (pd.Timestamp(start), pd.Timestamp(end))
        else:
            assert pd.isna(got.start_at) and pd.isna(got.end_at)
        assert bool(got.limit_section_privileges) == want["limit_section_privileges"]


@given(st.text(max_size=20))
def test_csv_safe_never_starts_with_a_formula(value: str) -> None:
    safe = csv_safe(value)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert safe.removeprefix("'") == value or safe == value


YAML_NODE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "courses",
                    "course",
                    "sections",
                    "section",
                    "students",
                    "observers",
                    "user",
                    "status",
                    "role",
                    "start_date",
                    "enrollments",
                    "other_roles",
                    "observes",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["sis-csv", "yaml", "oneroster", None]))
def test_arbitrary_bytes_never_raise(data: bytes, fmt: str | None) -> None:
    stream = io.BytesIO(data)
    result = load_rosters([stream], format=fmt)
    assert result.ok or result.errors  # either valid or explained, never an exception


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=YAML_NODE)
def test_arbitrary_yaml_documents_never_raise(document: object) -> None:
    import yaml

    stream = io.BytesIO(yaml.safe_dump(document).encode())
    result = load_rosters([stream], format="yaml")
    assert result.ok or result.errors


COLUMNS = [
    "course_id",
    "section_id",
    "user_id",
    "user_integration_id",
    "role",
    "role_id",
    "status",
    "start_date",
    "end_date",
    "associated_user_id",
    "limit_section_privileges",
    "notify",
    "last_attended_at",
]
CELL = st.one_of(
    st.text(max_size=10), st.sampled_from(["", "student", "observer", "active", "2026-01-01", "canvas:1"])
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(CELL, min_size=8, max_size=8), max_size=6),
)
def test_arbitrary_sis_cells_never_raise(header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row[: len(header)])
    result = load_rosters([io.BytesIO(buffer.getvalue().encode("utf-8", "surrogatepass"))], format="sis-csv")
    assert result.ok or result.errors
    assert len(result.desired) <= len(rows)


OR_HEADERS = {
    "manifest.csv": ["propertyName", "value"],
    "enrollments.csv": [
        "sourcedId",
        "status",
        "classSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
    "classes.csv": ["sourcedId", "courseSourcedId", "classCode"],
    "courses.csv": ["sourcedId", "courseCode"],
    "users.csv": ["sourcedId", "role", "roles", "agentSourcedIds", "identifier", "userMasterIdentifier"],
    "roles.csv": ["userSourcedId", "roleType", "role"],
}
OR_CELL = st.one_of(
    st.sampled_from(
        [
            "",
            "c1",
            "u1",
            "u2",
            "student",
            "guardian",
            "teacher",
            "true",
            "false",
            "bulk",
            "delta",
            "tobedeleted",
            "active",
            "1.2",
            "file.enrollments",
            "oneroster.version",
            "u1,u2",
            "2026-01-01",
        ]
    ),
    st.text(max_size=5),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.dictionaries(
        st.sampled_from(sorted(OR_HEADERS)),
        st.lists(st.lists(OR_CELL, min_size=8, max_size=8), max_size=5),
        max_size=6,
    ),
    class_maps_to=st.sampled_from(["course", "section"]),
)
def test_arbitrary_oneroster_sets_never_raise(
    members: dict[str, list[list[str]]], class_maps_to: str
) -> None:
    import zipfile

    from reconcile.config import Config, OneRosterSettings

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, rows in members.items():
            text = io.StringIO()
            writer = csv.writer(text)
            header = OR_HEADERS[name]
            writer.writerow(header)
            for row in rows:
                writer.writerow(row[: len(header)])
            archive.writestr(name, text.getvalue().encode("utf-8", "surrogatepass"))
    buffer.seek(0)
    config = Config(oneroster=OneRosterSettings(class_maps_to=class_maps_to))  # type: ignore[arg-type]
    result = load_rosters([buffer], format="oneroster", config=config)
    assert result.ok or result.errors
