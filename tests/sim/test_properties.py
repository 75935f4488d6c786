"""Properties that must hold after any sequence of writes, checked over HTTP with hypothesis."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sim.conftest import Api

ALL_STATES = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]
USERS = [10, 11, 24, 25, 26, 30, 38]
SECTIONS = [202, 203]
TYPES = ["StudentEnrollment", "TaEnrollment", "ObserverEnrollment"]

post = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(USERS),
        "course_section_id": st.sampled_from(SECTIONS),
        "type": st.sampled_from(TYPES),
        "enrollment_state": st.sampled_from(["", "active", "invited", "inactive"]),
    }
).map(lambda d: ("post", d))
delete = st.tuples(
    st.just("delete"), st.sampled_from(["conclude", "delete", "inactivate"]), st.integers(0, 50)
)
reactivate = st.tuples(st.just("reactivate"), st.integers(0, 50))
operations = st.lists(st.one_of(post, delete, reactivate), min_size=1, max_size=12)


def _apply(api: Api, operation: tuple[object, ...]) -> None:
    rows = [
        r
        for r in api.university.simulator.enrollments()
        if r["course_id"] == 102 and r["workflow_state"] != "deleted"
    ]
    if operation[0] == "post":
        fields = dict(operation[1])  # type: ignore[call-overload]
        if not fields["enrollment_state"]:
            del fields["enrollment_state"]
        response = api.enroll(102, **fields)
        assert response.status_code == 200, response.text
    elif rows:
        target = rows[int(operation[-1]) % len(rows)]  # type: ignore[call-overload]
        if operation[0] == "delete":
            response = api.delete(
                f"/api/v1/courses/102/enrollments/{target['id']}", params={"task": operation[1]}
            )
            assert response.status_code == 200
        else:
            response = api.put(f"/api/v1/courses/102/enrollments/{target['id']}/reactivate")
            assert response.status_code == (200 if target["workflow_state"] == "inactive" else 400)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, per_page=st.integers(1, 7))
def test_any_write_sequence_keeps_keys_unique_and_lists_complete(
    api: Api, ops: list[tuple[object, ...]], per_page: int
) -> None:
    api.university.simulator.reset()
    api.university.simulator.set_faults(throttle="off")
    for operation in ops:
        _apply(api, operation)
    rows = api.university.simulator.enrollments()
    keys = Counter(
        (r["user_id"], r["type"], r["role_id"], r["course_section_id"], r["associated_user_id"]) for r in rows
    )
    assert max(keys.values()) == 1
    listed = api.all_pages("/api/v1/courses/102/enrollments", per_page=per_page, **{"state[]": ALL_STATES})
    assert sorted(e["id"] for e in listed) == sorted(r["id"] for r in rows if r["course_id"] == 102)
    order = [(e["type"], e["id"]) for e in listed]
    assert [t for t, _ in order] == sorted(t for t, _ in order)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=post.map(lambda p: p[1]))
def test_posting_twice_is_idempotent(api: Api, fields: dict[str, object]) -> None:
    api.university.simulator.reset()
    data = {k: v for k, v in fields.items() if v != ""}
    first = api.enroll(102, **data).json()
    before = api.university.simulator.enrollments()
    second = api.enroll(102, **data).json()
    assert second == first
    assert api.university.simulator.enrollments() == before
