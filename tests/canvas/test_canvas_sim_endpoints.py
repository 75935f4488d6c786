"""Every endpoint against the simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from canvas_helpers import many_seed

from reconcile.canvas import BadRequest, Forbidden, NotFound, Unauthorized, current
from reconcile.canvas.params import enrollment_params
from reconcile.frames import CURRENT_COLUMNS


def test_course_section_and_user_lists_with_filters(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client(per_page=3) as client:
        default = [e.id for e in client.course_enrollments("sis_course_id:MATH101-F26")]
        # Canvas's admin default hides completed, deleted and rejected (facts §1.2)
        assert 1015 not in default and 1016 not in default and 1017 not in default and 1013 in default
        every = {
            e.id
            for e in client.course_enrollments(
                101,
                state=[
                    "active",
                    "invited",
                    "creation_pending",
                    "inactive",
                    "completed",
                    "rejected",
                    "deleted",
                ],
            )
        }
        assert {1015, 1016, 1017} <= every and len(every) == 19
        teachers = [e for e in client.course_enrollments(101, type="TeacherEnrollment")]
        assert [e.user_id for e in teachers] == [2]
        graders = list(client.course_enrollments(101, role="Grader"))
        assert [e.id for e in graders] == [1003]
        with_user = list(client.course_enrollments(101, user_id="sis_user_id:S0001"))
        assert {e.id for e in with_user} == {1004}
        assert all(
            e.user is not None and (e.user.sis_user_id or e.type == "StudentViewEnrollment")
            for e in client.course_enrollments(101, state="active")
        )
        by_sis = list(client.course_enrollments(101, sis_user_id=["S0002"]))
        assert [e.user_id for e in by_sis] == [11]
        section = {e.id for e in client.section_enrollments("sis_section_id:BIO110-F26-B")}
        assert 1109 in section and 1103 not in section
        mine = {e.id for e in client.user_enrollments("sis_user_id:S0001")}
        assert {1004, 1116, 1203} <= mine
        slash = list(client.user_enrollments("sis_user_id:S0028/X"))  # '/' travels as %2F
        assert [e.id for e in slash] == [1208]


def test_unknown_role_filter_is_bad_request(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client, pytest.raises(BadRequest):
        list(client.course_enrollments(101, role="NoSuchRole"))


def test_get_enrollment_through_the_root_account(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client:
        deleted = client.get_enrollment(1016)
        assert deleted.state == "deleted" and deleted.user is None
        assert client.get_enrollment(1004, account="sis_account_id:NU").id == 1004
        with pytest.raises(NotFound):
            client.get_enrollment(1004, account=2)  # a sub-account never finds it (facts §2)


def test_enroll_in_course_and_section_with_every_parameter(uni) -> None:  # type: ignore[no-untyped-def]
    start = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    with uni.client() as client:
        created = client.enroll_in_course(
            "sis_course_id:BIO110-F26",
            "sis_login_id:bcarter@northfield.edu",
            type="StudentEnrollment",
            enrollment_state="active",
            course_section_id="sis_section_id:BIO110-F26-B",
            limit_privileges_to_course_section=True,
            notify=False,
            start_at=start,
            end_at=end,
        )
        assert (created.user_id, created.course_section_id, created.state) == (11, 203, "active")
        assert (
            created.start_at == start and created.end_at == end and created.limit_privileges_to_course_section
        )
        again = client.enroll_in_course(
            102, 11, course_section_id=203, enrollment_state="active", start_at=None, end_at=None
        )
        assert again.id == created.id and again.start_at is None  # upsert, dates cleared (facts §3.4)
        observer = client.enroll_in_section(
            "sis_section_id:BIO110-F26-A",
            "sis_user_id:P0001",
            type="ObserverEnrollment",
            enrollment_state="active",
            associated_user_id="sis_user_id:S0001",
        )
        assert observer.type == "ObserverEnrollment" and observer.associated_user_id == 10
        grader = client.enroll_in_course(
            102, "sis_integration_id:int-u-7", role_id=10, enrollment_state="invited"
        )
        assert grader.role == "Grader" and grader.state == "invited"


def test_enrollment_params_shape() -> None:
    data = enrollment_params(
        "canvas:5", enrollment_state="active", start_at=None, course_section_id="canvas:9"
    )
    assert data == {
        "enrollment[user_id]": "5",
        "enrollment[enrollment_state]": "active",
        "enrollment[start_at]": None,
        "enrollment[course_section_id]": "9",
    }
    with pytest.raises(TypeError):
        enrollment_params(5, colour="red")


def test_bulk_enrollment_and_its_progress(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client:
        progress = client.bulk_enroll(
            ["sis_user_id:S0020", 30], ["sis_course_id:HIST200-F26"], enrollment_type="StudentEnrollment"
        )
        assert progress.tag == "bulk_enrollment" and progress.id
        done = client.wait_for_progress(progress, interval=0.05, timeout=30)
        assert done.workflow_state == "completed" and done.completion == 100.0
        users = {
            e.user_id for e in client.course_enrollments(103, state=["active", "invited", "creation_pending"])
        }
        assert {29, 30} <= users
        with pytest.raises(BadRequest) as info:
            client.bulk_enroll(list(range(1, 30)), [101] * 20)
        assert info.value.canvas_message == "Too many users to enroll at once."


def test_conclude_inactivate_delete_and_reactivate(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client:
        assert client.inactivate_enrollment(101, 1005).state == "inactive"
        assert client.reactivate_enrollment(101, 1005).state == "active"
        with pytest.raises(BadRequest) as info:
            client.reactivate_enrollment(101, 1005)
        assert info.value.canvas_message == "enrollment not inactive"
        assert client.conclude_enrollment("sis_course_id:MATH101-F26", 1006).state == "completed"
        assert client.delete_enrollment(101, 1007).state == "deleted"
        with pytest.raises(NotFound):
            client.delete_enrollment(101, 1007)  # already deleted: 404 (facts §5.1)
        assert client.end_enrollment(101, 1009, task="deactivate").state == "inactive"
        with pytest.raises(ValueError):
            client.end_enrollment(101, 1009, task="explode")  # type: ignore[arg-type]


def test_accept_and_reject_as_the_invited_user(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client("demo-student-token") as student:
        assert student.accept_enrollment(101, 1014) is True
    with uni.client() as admin:
        assert admin.get_enrollment(1014).state == "active"
        with pytest.raises((Forbidden, Unauthorized)):
            admin.reject_enrollment(102, 1115)  # only the enrollment's own user may


def test_last_attended_and_temporary_status(uni) -> None:  # type: ignore[no-untyped-def]
    when = dt.datetime(2026, 10, 14, 9, 30, tzinfo=dt.timezone.utc)
    with uni.client() as client:
        assert client.set_last_attended(101, 14, when) == when
        assert client.get_enrollment(1008).last_attended_at == when
        with pytest.raises(BadRequest) as info:
            client.set_last_attended(101, 14, "not a date")
        assert info.value.canvas_message == "Invalid date time input"
        provider = client.temporary_enrollment_status(4)
        recipient = client.temporary_enrollment_status("sis_user_id:T1005")
        assert provider.is_provider and not provider.is_recipient
        assert recipient.is_recipient


def test_account_courses_fetches_numbered_pages_concurrently(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client(per_page=2) as client:
        courses = client.account_courses(1)
        assert sorted(c.id for c in courses) == [101, 102, 103, 104, 105]
        assert client.stats.requests == 3  # ceil(5 / 2) pages, no wasted request
        science = client.account_courses("sis_account_id:NU-SCI")
        assert {c.ref for c in science} == {
            "sis_course_id:MATH101-F26",
            "sis_course_id:BIO110-F26",
            "sis_course_id:MATH210-S26",
        }


def test_fetch_current_every_state_every_course(uni) -> None:  # type: ignore[no-untyped-def]
    refs = ["sis_course_id:MATH101-F26", "102", "sis_course_id:HIST200-F26", "canvas:104", "105"]
    seen: list[tuple[int, int]] = []
    with uni.client(per_page=4) as client:
        frame = client.fetch_current(refs, on_progress=lambda d, t: seen.append((d, t)))
    truth = uni.simulator.enrollments()
    assert sorted(frame["id"].tolist()) == sorted(e["id"] for e in truth)
    assert list(frame.columns) == list(CURRENT_COLUMNS)
    assert {str(c): str(t) for c, t in frame.dtypes.items()} == CURRENT_COLUMNS
    assert set(frame["course_ref"]) == {
        "sis_course_id:MATH101-F26",
        "102",
        "sis_course_id:HIST200-F26",
        "104",
        "105",
    }
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    row = frame.set_index("id").loc[1012]
    assert (
        row["start_at"] == dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc) and row["sis_user_id"] == "S0009"
    )
    assert frame.set_index("id").loc[1202, "temporary_enrollment_source_user_id"] == 4


def test_fetch_current_builds_the_frame_in_chunks_without_changing_it(uni, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    refs = ["105", "sis_course_id:MATH101-F26", "103", "102", "104"]
    with uni.client(per_page=3, concurrency=4) as client:
        whole = client.fetch_current(refs)
        monkeypatch.setattr(current._Chunks, "ROWS", 2)  # a typed frame every course or two
        chunked = client.fetch_current(refs)
    pd.testing.assert_frame_equal(chunked, whole)
    assert list(dict.fromkeys(chunked["course_ref"])) == [
        "105",
        "sis_course_id:MATH101-F26",
        "103",
        "102",
        "104",
    ]
    assert chunked.index.tolist() == list(range(len(chunked)))


def test_chunks_keep_the_order_asked_whatever_order_courses_finish_in() -> None:
    def rows(ref: str, n: int) -> current.Columns:
        columns = current.Columns()
        columns.add(ref, [{"id": int(ref) * 10 + i, "course_id": int(ref)} for i in range(n)])
        return columns

    chunks = current._Chunks(["1", "2", "3", "4"])
    chunks.ROWS = 2
    ready = [chunks.done(ref, rows(ref, n)) for ref, n in (("3", 2), ("1", 1), ("4", 1), ("2", 2))]
    assert ready[:3] == [None, None, None]  # course 1 alone is under ROWS; 2 is still missing
    assert ready[3] is not None and ready[3]["id"].tolist() == [10, 20, 21, 30, 31, 40]
    assert {str(c): str(t) for c, t in ready[3].dtypes.items()} == CURRENT_COLUMNS
    assert chunks.rest() is None


def test_fetch_chunks_hold_whole_courses_in_the_order_asked(uni, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(current._Chunks, "ROWS", 5)
    refs = ["105", "sis_course_id:MATH101-F26", "103", "102", "104"]
    with uni.client(per_page=3, concurrency=1) as client:  # one worker: courses finish in order
        chunks = list(client.fetch_current_chunks(refs))
    with uni.client(per_page=3, concurrency=4) as client:
        whole = client.fetch_current(refs)
    assert len(chunks) > 2
    seen = [list(dict.fromkeys(chunk["course_ref"])) for chunk in chunks]
    flat = [ref for refs_in_chunk in seen for ref in refs_in_chunk]
    assert flat == ["105", "sis_course_id:MATH101-F26", "103", "102", "104"]  # no course split
    assert all(len(chunk) >= 5 for chunk in chunks[:-1])
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_a_consumer_that_stops_early_does_not_wait_for_every_course(serve, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(current._Chunks, "ROWS", 1)
    served = serve(many_seed(5, 3), latency_ms=300)  # the worker is mid-course when we stop
    with served.client(concurrency=1) as client:
        chunks = client.fetch_current_chunks([f"sis_course_id:C{n:05d}" for n in range(5)])
        first = next(chunks)
        chunks.close()
        assert list(first["course_ref"].unique()) == ["sis_course_id:C00000"]
        # the first course and the one the single worker had started; three never asked
        assert client.stats.requests == 2


def test_fetch_current_names_a_missing_course(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client, pytest.raises(NotFound, match="course sis_course_id:NOPE not found"):
        client.fetch_current(["101", "sis_course_id:NOPE", "102"])


def test_error_shapes_from_canvas(uni) -> None:  # type: ignore[no-untyped-def]
    with uni.client() as client:
        with pytest.raises(BadRequest) as no_user:
            client.enroll_in_course(101, None, enrollment_state="active")  # type: ignore[arg-type]
        assert "Can't create an enrollment without a user" in (no_user.value.canvas_message or "")
        with pytest.raises(BadRequest) as model:
            client.enroll_in_course(101, 38, type="ObserverEnrollment", associated_user_id=38)
        assert "associated_user_id" in (model.value.canvas_message or "")
        with pytest.raises(NotFound) as missing:
            client.enroll_in_course(101, "sis_user_id:NOBODY")
        assert missing.value.canvas_message == "The specified resource does not exist."
    with uni.client("not-a-token") as stranger, pytest.raises(Unauthorized) as bad_token:
        stranger.get_enrollment(1004)
    assert bad_token.value.canvas_message == "Invalid access token."
    with uni.client("demo-teacher-token") as teacher, pytest.raises(Forbidden) as forbidden:
        list(teacher.course_enrollments(102))
    assert forbidden.value.status == 403 and not forbidden.value.transient
