"""GET enrollment lists: default states by caller (facts §1.2), filters (§1.1), ordering and
Link pagination (§1.3, §8)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sim.conftest import Api

ALL_STATES = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]


def _ids(items: list[dict[str, object]]) -> set[object]:
    return {e["id"] for e in items}


def test_admin_default_includes_inactive_and_pending_but_not_concluded(api: Api) -> None:
    states = {e["enrollment_state"] for e in api.all_pages("/api/v1/courses/101/enrollments")}
    assert states == {"active", "invited", "inactive"}
    pending = {e["enrollment_state"] for e in api.all_pages("/api/v1/courses/104/enrollments")}
    assert pending == {"invited", "creation_pending"}


def test_student_default_excludes_inactive(api: Api) -> None:
    items = api.as_(api.university.active_student_token).all_pages("/api/v1/courses/101/enrollments")
    assert {e["enrollment_state"] for e in items} == {"active", "invited"}
    assert 1013 not in _ids(items)  # the inactive one
    assert 1019 not in _ids(items)  # nor the Student View test student


def test_state_filter_on_course_paths_is_literal(api: Api) -> None:
    deleted = api.all_pages("/api/v1/courses/101/enrollments", **{"state[]": ["deleted"]})
    assert _ids(deleted) == {1016}
    every = api.all_pages("/api/v1/courses/101/enrollments", **{"state[]": ALL_STATES})
    assert len(every) == 19
    synthetic = api.all_pages("/api/v1/courses/101/enrollments", **{"state[]": ["current_and_invited"]})
    assert synthetic == []


def test_list_items_embed_the_user(api: Api) -> None:
    item = api.get("/api/v1/courses/101/enrollments", params={"user_id": 10}).json()[0]
    assert item["user"] == {
        "id": 10,
        "name": "Amara Okafor",
        "created_at": "2026-01-05T12:00:00Z",
        "sortable_name": "Okafor, Amara",
        "short_name": "Amara Okafor",
        "sis_user_id": "S0001",
        "integration_id": "int-u-10",
        "sis_import_id": None,
        "login_id": "aokafor@northfield.edu",
    }
    assert item["sis_course_id"] == "MATH101-F26" and item["sis_section_id"] == "MATH101-F26-01"
    assert item["grades"]["html_url"].endswith("/courses/101/grades/10")


def test_student_sees_no_sis_fields(api: Api) -> None:
    item = api.as_(api.university.active_student_token).get("/api/v1/courses/101/enrollments").json()[0]
    assert "sis_user_id" not in item and "sis_user_id" not in item["user"] and "login_id" not in item["user"]


def test_order_is_type_then_sortable_name_then_id(api: Api) -> None:
    items = api.all_pages("/api/v1/courses/101/enrollments", **{"state[]": ALL_STATES, "per_page": 3})
    keys = [(e["type"], e["user"]["sortable_name"]) for e in items]
    types = [k[0] for k in keys]
    assert types == sorted(types)
    assert types[0] == "ObserverEnrollment" and types[-1] == "TeacherEnrollment"
    students = [name for kind, name in keys if kind == "StudentEnrollment"]
    assert students.index("Dubois, Chloé") < students.index("Haddad, Farid")  # accents ignored


def test_link_header_is_canvas_shaped(api: Api) -> None:
    response = api.get(
        "/api/v1/courses/101/enrollments",
        params={"per_page": 5, "type[]": ["StudentEnrollment"], "access_token": api.university.token},
        headers={"Authorization": ""},
    )
    assert response.status_code == 200
    header = response.headers["Link"]
    rels = [part.split("; rel=")[1].strip('"') for part in header.split(",")]
    assert rels == ["current", "next", "first"]
    for part in header.split(","):
        url = part.split(";")[0].strip("<>")
        assert url.startswith(f"{api.university.url}/api/v1/courses/101/enrollments?")
        query = parse_qs(urlsplit(url).query)
        assert "access_token" not in query
        assert query["type[]"] == ["StudentEnrollment"] and query["per_page"] == ["5"]
    assert urlsplit(response.links["current"]["url"]).query.endswith("page=first&per_page=5")
    bookmark = parse_qs(urlsplit(response.links["next"]["url"]).query)["page"][0]
    assert bookmark.startswith("bookmark:")
    token = bookmark.removeprefix("bookmark:")
    assert "=" not in token
    last = response.json()[-1]
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded == [last["type"], last["user"]["sortable_name"], last["id"]]


def test_last_page_has_no_next_link(api: Api) -> None:
    response = api.get("/api/v1/courses/105/enrollments", params={"state[]": ALL_STATES, "per_page": 100})
    assert len(response.json()) == 4
    assert set(response.links) == {"current", "first"}


@pytest.mark.parametrize(("per_page", "size"), [(None, 10), ("0", 1), ("abc", 1), ("3x", 3), ("1000", 19)])
def test_per_page_is_clamped_like_ruby_to_i(api: Api, per_page: str | None, size: int) -> None:
    params: dict[str, object] = {"state[]": ALL_STATES}
    if per_page is not None:
        params["per_page"] = per_page
    assert len(api.get("/api/v1/courses/101/enrollments", params=params).json()) == size


def test_numeric_page_beyond_one_is_404_and_bad_bookmark_is_first_page(api: Api) -> None:
    assert api.get("/api/v1/courses/101/enrollments", params={"page": 2}).status_code == 404
    first = api.get("/api/v1/courses/101/enrollments").json()
    assert api.get("/api/v1/courses/101/enrollments", params={"page": "bookmark:!!!"}).json() == first
    assert api.get("/api/v1/courses/101/enrollments", params={"page": 1}).json() == first


def test_pagination_is_stable_while_rows_are_added(api: Api) -> None:
    response = api.get("/api/v1/courses/102/enrollments", params={"per_page": 4})
    seen = _ids(response.json())
    api.enroll(102, user_id=26, course_section_id=203, enrollment_state="active")  # new row sorts into page 1
    while "next" in response.links:
        response = api.get(response.links["next"]["url"])
        page = _ids(response.json())
        assert not page & seen
        seen |= page


def test_section_path_lists_one_section(api: Api) -> None:
    items = api.all_pages("/api/v1/sections/203/enrollments")
    assert {e["course_section_id"] for e in items} == {203}
    assert _ids(items) == {1102, 1109, 1110, 1111, 1112, 1113, 1115}


def test_section_limited_ta_sees_only_their_section(api: Api) -> None:
    items = api.as_(api.university.ta_token).all_pages("/api/v1/courses/102/enrollments")
    assert {e["course_section_id"] for e in items} == {203}


def test_observer_sees_self_and_observee_only(api: Api) -> None:
    items = api.as_(api.university.observer_token).all_pages("/api/v1/courses/101/enrollments")
    assert _ids(items) == {1018, 1004}
    api.university.simulator.store.enrollments[
        1018
    ].workflow_state = "inactive"  # still "has been an observer"
    assert _ids(api.as_(api.university.observer_token).all_pages("/api/v1/courses/101/enrollments")) == {
        1018,
        1004,
    }
    api.university.simulator.store.enrollments[1018].workflow_state = "deleted"
    assert api.as_(api.university.observer_token).get("/api/v1/courses/101/enrollments").status_code == 403


def test_stranger_and_invitee_are_refused(api: Api) -> None:
    invitee = api.as_(api.university.student_token).get("/api/v1/courses/101/enrollments")
    assert invitee.status_code == 403  # invited, not yet a participant
    response = api.as_(api.university.active_student_token).get("/api/v1/courses/104/enrollments")
    assert response.status_code == 403
    assert response.json()["status"] == "unauthorized"


def test_no_token_is_unauthenticated(api: Api) -> None:
    response = api.as_(None).get("/api/v1/courses/101/enrollments")
    assert response.status_code == 401
    assert response.json() == {
        "status": "unauthenticated",
        "errors": [{"message": "user authorization required"}],
    }


def test_type_role_and_role_id_filters(api: Api) -> None:
    tas = api.all_pages("/api/v1/courses/101/enrollments", **{"type[]": ["TaEnrollment"]})
    assert _ids(tas) == {1002, 1003}
    graders = api.all_pages(
        "/api/v1/courses/101/enrollments", **{"role[]": ["Grader"], "type[]": ["StudentEnrollment"]}
    )
    assert _ids(graders) == {1003}  # type[] is ignored when role[] is given
    by_id = api.all_pages("/api/v1/courses/101/enrollments", role_id=5)
    assert _ids(by_id) == {1002}
    bad = api.get("/api/v1/courses/101/enrollments", params={"role[]": ["Nope"]})
    assert bad.status_code == 400
    assert bad.json() == {"errors": [{"message": "An error occurred.", "error_code": "bad_request"}]}


def test_user_id_filter_and_includes(api: Api) -> None:
    items = api.all_pages(
        "/api/v1/courses/101/enrollments",
        user_id="sis_user_id:P0001",
        **{
            "include[]": [
                "observed_users",
                "avatar_url",
                "uuid",
                "can_be_removed",
                "locked",
                "group_ids",
                "current_points",
            ]
        },
    )
    (observer,) = items
    assert observer["observed_user"]["id"] == 10
    assert [e["id"] for e in observer["observed_user"]["enrollments"]] == [1004]
    assert observer["user"]["avatar_url"].startswith("http") and len(observer["user"]["uuid"]) >= 20
    assert observer["can_be_removed"] is True and observer["locked"] is False and observer["group_ids"] == []
    student = api.get(
        "/api/v1/courses/101/enrollments", params={"user_id": 10, "include[]": "current_points"}
    ).json()[0]
    assert "current_points" in student["grades"]


def test_grading_period_is_validated(api: Api) -> None:
    response = api.get("/api/v1/courses/101/enrollments", params={"grading_period_id": 1})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid grading_period_id"}


def test_sis_filters_need_sis_rights(api: Api) -> None:
    items = api.all_pages("/api/v1/courses/102/enrollments", **{"sis_section_id[]": ["BIO110-F26-B"]})
    assert {e["course_section_id"] for e in items} == {203}
    by_user = api.all_pages("/api/v1/courses/101/enrollments", **{"sis_user_id[]": ["S0001", "S0002"]})
    assert _ids(by_user) == {1004, 1005}
    assert (
        api.all_pages("/api/v1/courses/101/enrollments", **{"sis_account_id[]": ["NU"]}) == []
    )  # no sub-accounts
    assert len(api.all_pages("/api/v1/courses/101/enrollments", **{"sis_course_id[]": ["MATH101-F26"]})) == 16
    refused = api.as_(api.university.active_student_token).get(
        "/api/v1/courses/101/enrollments", params={"sis_user_id[]": "S0001"}
    )
    assert refused.status_code == 400
    assert refused.json() == {"message": "Insufficient permissions to filter by SIS fields"}


def test_created_for_sis_id_drops_rows_the_api_touched(api: Api) -> None:
    params = {"sis_user_id[]": ["S0001"], "created_for_sis_id": "true"}
    assert _ids(api.all_pages("/api/v1/courses/101/enrollments", **params)) == {1004}
    api.enroll(101, user_id=10, enrollment_state="active")
    assert api.all_pages("/api/v1/courses/101/enrollments", **params) == []


class TestUserPath:
    def test_self_default_is_current_and_invited(self, api: Api) -> None:
        me = api.as_(api.university.student_token)
        assert _ids(me.all_pages("/api/v1/users/self/enrollments")) == {1014}

    def test_self_states_are_validated_and_expanded(self, api: Api) -> None:
        me = api.as_("demo-teacher-token")
        response = me.get("/api/v1/users/self/enrollments", params={"state[]": ["deleted"]})
        assert response.status_code == 400
        assert response.json() == {"error": "Invalid state deleted"}
        concluded = me.all_pages("/api/v1/users/self/enrollments", **{"state[]": ["current_and_concluded"]})
        assert _ids(concluded) == {1001, 1401}

    def test_admin_sees_active_and_invited_of_another_user(self, api: Api) -> None:
        items = api.all_pages("/api/v1/users/sis_user_id:S0002/enrollments")
        assert _ids(items) == {1005, 1204}

    def test_term_filter(self, api: Api) -> None:
        items = api.all_pages(
            "/api/v1/users/10/enrollments",
            enrollment_term_id="sis_term_id:T2026SP",
            **{"state[]": ALL_STATES},
        )
        assert _ids(items) == {1402}
        assert api.get("/api/v1/users/10/enrollments", params={"enrollment_term_id": 99}).status_code == 404

    def test_parent_may_read_observee_but_not_others(self, api: Api) -> None:
        parent = api.as_(api.university.observer_token)
        assert parent.get("/api/v1/users/10/enrollments").status_code == 200
        assert parent.get("/api/v1/users/11/enrollments").status_code == 403

    def test_deleted_user_is_404(self, api: Api) -> None:
        assert api.get("/api/v1/users/41/enrollments").status_code == 404


def test_state_filter_for_another_user_is_literal(api: Api) -> None:
    literal = api.all_pages("/api/v1/users/10/enrollments", **{"state[]": ["completed"]})
    assert _ids(literal) == {1402}
    assert api.all_pages("/api/v1/users/10/enrollments", **{"state[]": ["current_and_invited"]}) == []


def test_own_active_enrollments_in_unpublished_courses_are_not_current(api: Api) -> None:
    from reconcile.sim.model import Token

    store = api.university.simulator.store
    store.add_token(Token(token="farid-token", user_id=15))  # student in MATH101 and unpublished ENG305
    store.enrollments[1302].workflow_state = "active"
    me = api.as_("farid-token")
    assert _ids(me.all_pages("/api/v1/users/self/enrollments")) == {1009}
    assert _ids(me.all_pages("/api/v1/users/self/enrollments", **{"state[]": ["active"]})) == {1009}
    assert _ids(api.all_pages("/api/v1/users/15/enrollments")) == {1009, 1302}  # others: raw states


def test_huge_queries_keep_the_next_link_first(api: Api) -> None:
    many = [f"{'x' * 40}{i}" for i in range(60)]  # ~2.6 KB of query per link
    response = api.get("/api/v1/courses/101/enrollments", params={"per_page": 2, "include[]": many})
    assert response.status_code == 200
    assert len(response.headers["Link"]) <= 6 * 1024
    assert "next" in response.links and "first" not in response.links


def test_lists_never_serve_stale_rows(api: Api) -> None:
    def state_of_1005() -> str:
        items = api.all_pages("/api/v1/courses/101/enrollments", **{"state[]": ALL_STATES, "per_page": 50})
        return next(e["enrollment_state"] for e in items if e["id"] == 1005)

    assert state_of_1005() == "active"
    api.delete("/api/v1/courses/101/enrollments/1005", params={"task": "inactivate"})
    assert state_of_1005() == "inactive"
    api.university.simulator.store.enrollments[1005].workflow_state = "rejected"  # changed in place
    assert state_of_1005() == "rejected"
    api.university.simulator.store.courses[101].workflow_state = "deleted"
    assert state_of_1005() == "deleted"  # a deleted course shows every row as deleted
