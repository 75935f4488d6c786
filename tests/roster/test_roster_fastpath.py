"""The SIS CSV fast path (pandas parse proven whole by byte counts) never loses or reshapes data."""

from __future__ import annotations

import io

from reconcile.roster import load_rosters

HEADER = "course_id,section_id,user_id,role,status\n"


def _load(text: str, name: str = "enrollments.csv"):  # type: ignore[no-untyped-def]
    source = io.BytesIO(text.encode("utf-8"))
    source.name = name  # type: ignore[attr-defined]
    return load_rosters([source])


def _codes(result) -> list[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
    return sorted((p.row, p.code) for p in result.errors)


def test_first_row_longer_than_the_header_is_reported_not_truncated() -> None:
    # A long first row and a short later row balance the comma count; both must be reported.
    text = HEADER + "C1,S1,u1,student,active,EXTRA\nC1,S1,u2,student\nC1,S1,u3,student,active\n"
    result = _load(text)
    assert ("2", "field_count") in _codes(result)
    assert any(code in {"truncated", "field_count"} and row == "3" for row, code in _codes(result))


def test_number_and_boolean_looking_ids_stay_text() -> None:
    text = HEADER + "".join(
        f"{course},{section},{user},student,active\n"
        for course, section, user in [
            ("0101", "01", "007"),
            ("101", "1", "7"),
            ("true", "FALSE", "1e3"),
            ("1,000", "x", "y"),
        ]
    ).replace("1,000,x", '"1,000",x')
    result = _load(text)
    assert result.ok, [str(p) for p in result.problems]
    assert list(result.desired["course"]) == [
        "sis_course_id:0101",
        "sis_course_id:101",
        "sis_course_id:true",
        "sis_course_id:1,000",
    ]
    assert list(result.desired["section"]) == [
        "sis_section_id:01",
        "sis_section_id:1",
        "sis_section_id:FALSE",
        "sis_section_id:x",
    ]
    assert list(result.desired["user"]) == [
        "sis_user_id:007",
        "sis_user_id:7",
        "sis_user_id:1e3",
        "sis_user_id:y",
    ]


def test_quoted_file_gives_the_same_table_as_unquoted() -> None:
    rows = [("C1", "S1", f"u{i}", "student", "active") for i in range(50)]
    plain = HEADER + "".join(",".join(r) + "\n" for r in rows)
    quoted = HEADER + "".join(",".join(f'"{c}"' for c in r) + "\n" for r in rows)
    with_comma = (
        HEADER
        + "".join(",".join(f'"{c}"' for c in r) + "\n" for r in rows[:-1])
        + '"C1","S1","u,49","student","active"\n'
    )
    a, b, c = _load(plain), _load(quoted), _load(with_comma)
    assert a.ok and b.ok and c.ok
    columns = ["course", "section", "user", "role", "status"]
    assert a.desired[columns].equals(b.desired[columns])
    assert list(c.desired["user"])[-1] == "sis_user_id:u,49"
    assert list(c.desired["user"])[:-1] == list(a.desired["user"])[:-1]


def test_a_cut_quoted_file_is_reported_on_the_slow_path() -> None:
    text = HEADER + '"C1","S1","u,1","student","active"\n"C1","S1","u2","stud'
    result = _load(text)
    assert _codes(result) and all(code in {"truncated", "field_count"} for _, code in _codes(result))
