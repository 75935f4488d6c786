"""The plan document: determinism, JSON round trip, schema, format version, fingerprints."""

from __future__ import annotations

import json

import pytest

from reconcile.plan import (
    PlanFormatError,
    canonical_bytes,
    plan_from_json,
    plan_to_json,
    sign_plan,
    signature_valid,
)
from reconcile.planner import fingerprint

from .factory import COURSE, current_frame, have, plan_of, want


def sample_plan():  # type: ignore[no-untyped-def]
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s9")
    return plan_of(
        [want("s1"), want("s2", section="sis_section_id:MATH101-02"), want("s9"), observer],
        [have("s1", state="deleted"), have("s2"), have("s3")],
        inputs=[{"path": "roster.csv", "format": "sis_csv", "sha256": "ab" * 32, "rows": 4}],
        canvas_url="https://canvas.example.edu",
    )


def test_same_inputs_give_byte_identical_plans() -> None:
    assert plan_to_json(sample_plan()) == plan_to_json(sample_plan())


def test_plan_round_trips_through_json_unchanged() -> None:
    plan = sample_plan()
    text = plan_to_json(plan)
    again = plan_from_json(text)
    assert again == plan
    assert plan_to_json(again) == text


def test_plan_id_changes_with_content() -> None:
    a = plan_of([want("s1")], [])
    b = plan_of([want("s2")], [])
    assert a.plan_id != b.plan_id


def test_plan_never_contains_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANVAS_API_TOKEN", "secret-token-value-123")
    assert "secret-token-value-123" not in plan_to_json(sample_plan())


def test_unknown_format_version_is_refused_clearly() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    data["format_version"] = 2
    with pytest.raises(PlanFormatError, match="format_version 2 is not supported"):
        plan_from_json(json.dumps(data))


def test_schema_violation_is_refused_with_location() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    data["operations"][0]["action"] = "explode"
    with pytest.raises(PlanFormatError, match="operations/0/action"):
        plan_from_json(json.dumps(data))


def test_invalid_json_is_refused() -> None:
    with pytest.raises(PlanFormatError, match="invalid JSON"):
        plan_from_json("{not json")


def test_fingerprint_is_order_independent_and_change_sensitive() -> None:
    rows = [have("s1"), have("s2"), have("s3", course_ref="sis_course_id:B")]
    one = fingerprint(current_frame(*rows))
    assert one == fingerprint(current_frame(*reversed(rows)))
    assert set(one) == {COURSE, "sis_course_id:B"}
    changed = [dict(rows[0], state="completed"), rows[1], rows[2]]
    two = fingerprint(current_frame(*changed))
    assert two[COURSE] != one[COURSE] and two["sis_course_id:B"] == one["sis_course_id:B"]
    renamed = [dict(rows[0], user_name="Someone Else"), rows[1], rows[2]]
    assert fingerprint(current_frame(*renamed)) == one  # names are not state


def test_fingerprint_covers_dates_and_updated_at() -> None:
    base = fingerprint(current_frame(have("s1", id=1)))
    assert fingerprint(current_frame(have("s1", id=1, end_at="2027-01-01T00:00:00Z"))) != base
    assert fingerprint(current_frame(have("s1", id=1, updated_at="2026-09-02T00:00:00Z"))) != base


def test_fingerprint_lists_empty_courses() -> None:
    result = fingerprint(current_frame(), courses=["sis_course_id:Z"])
    assert list(result) == ["sis_course_id:Z"]
    assert result != fingerprint(current_frame(have("s1", course_ref="sis_course_id:Z")))


def test_plan_records_fingerprints_of_every_course_in_scope() -> None:
    plan = sample_plan()
    assert set(plan.fingerprints) == {COURSE}


def test_summary_counts() -> None:
    plan = sample_plan()
    s = plan.summary
    assert s["total"] == len(plan.operations)
    assert s["to_enroll"] + s["to_change"] + s["to_drop"] == s["total"]
    assert s["moves"] == 1


def test_signature_covers_content_not_layout() -> None:
    key, other = b"the-signing-key-0001", b"the-signing-key-0002"
    plan = sign_plan(sample_plan(), key)
    assert signature_valid(plan, key) and not signature_valid(plan, other)
    assert not signature_valid(sample_plan(), key)  # unsigned
    relaid = json.dumps(json.loads(plan_to_json(plan)), indent=4, sort_keys=True)
    assert signature_valid(plan_from_json(relaid), key)  # re-indented, keys reordered: same content
    data = json.loads(plan_to_json(plan))
    data["created_at"] = "2030-01-01T00:00:00Z"
    assert not signature_valid(plan_from_json(json.dumps(data)), key)
    assert key not in canonical_bytes(plan) and key.decode() not in plan_to_json(plan)
    assert sign_plan(plan, key).signature == plan.signature  # signing again: the old signature is not signed
