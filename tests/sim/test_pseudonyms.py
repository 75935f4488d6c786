"""Users with several logins (facts §14.3, §12): which SIS id Canvas lists, and lookups by any
of them (canvas-lms ``app/models/sis_pseudonym.rb``, ``lib/api/v1/user.rb``, ``lib/api.rb``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconcile.sim import SeedError, Simulator
from tests.conftest import University
from tests.sim.conftest import Api

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


def _seed() -> dict[str, Any]:
    return {
        "now": "2026-10-15T12:00:00Z",
        "accounts": [{"id": 1}],
        "courses": [{"id": c, "sis_course_id": f"C{c}"} for c in (1, 2, 3)],
        "users": [
            {"id": 1, "name": "Admin", "sis_user_id": "ADMIN", "login_id": "admin@x"},
            # a merged user: the old SIS id is the first login, the new one sorts first by login
            {
                "id": 5,
                "name": "Amy Zed",
                "sis_user_id": "S-OLD",
                "login_id": "zed@x",
                "integration_id": "int-old",
                "pseudonyms": [
                    {"sis_user_id": "S-NEW", "login_id": "amy@x", "integration_id": "int-new"},
                    {"sis_user_id": "S-DEL", "login_id": "del@x", "workflow_state": "deleted"},
                    {"login_id": "nosis@x"},
                ],
            },
            # active before suspended, whatever the login order says
            {
                "id": 6,
                "name": "Bo",
                "sis_user_id": "B6",
                "login_id": "b@x",
                "pseudonyms": [{"sis_user_id": "A6", "login_id": "a@x", "workflow_state": "suspended"}],
            },
        ],  # fmt: skip
        "enrollments": [
            {"id": 1, "user_id": 5, "course_id": 1, "sis_import_id": 7, "sis_user_id": "S-OLD"},
            {"id": 2, "user_id": 5, "course_id": 2},
            {"id": 3, "user_id": 5, "course_id": 3, "sis_import_id": 7, "sis_user_id": "S-DEL"},
            {"id": 4, "user_id": 6, "course_id": 1},
        ],
        "tokens": [{"token": "t", "user_id": 1, "admin": True}],
    }


@pytest.fixture
def api() -> Iterator[Api]:
    simulator = Simulator.from_seed(_seed())
    with simulator.serve() as url:
        client = Api(University(url=url, token="t", simulator=simulator), "t")
        yield client
        client.session.close()


def _listed(api: Api, path: str, enrollment_id: int) -> dict[str, Any]:
    return next(e for e in api.all_pages(path) if e["id"] == enrollment_id)


def test_enrollment_lists_its_own_sis_login(api: Api) -> None:
    """enrollment_json: SisPseudonym.for(user, enrollment, :trusted) is the row's sis_pseudonym."""
    row = _listed(api, "/api/v1/courses/1/enrollments", 1)
    assert row["sis_user_id"] == "S-OLD"
    # the embedded user follows the course's SIS-made row (find_on_enrollment_for_context)
    assert (row["user"]["sis_user_id"], row["user"]["integration_id"], row["user"]["login_id"]) == (
        "S-OLD",
        "int-old",
        "zed@x",
    )


def test_without_an_sis_login_canvas_picks_by_login_order(api: Api) -> None:
    """Without the row's own login: live pseudonyms with an SIS id, by login collation."""
    row = _listed(api, "/api/v1/courses/2/enrollments", 2)
    assert row["sis_user_id"] == "S-NEW"
    assert (row["user"]["sis_user_id"], row["user"]["login_id"]) == ("S-NEW", "amy@x")


def test_a_deleted_sis_login_is_not_shown(api: Api) -> None:
    row = _listed(api, "/api/v1/courses/3/enrollments", 3)
    assert row["sis_user_id"] == "S-NEW"


def test_active_before_suspended(api: Api) -> None:
    row = _listed(api, "/api/v1/courses/1/enrollments", 4)
    assert (row["sis_user_id"], row["user"]["login_id"]) == ("B6", "b@x")
    assert api.get("/api/v1/users/6").json()["sis_user_id"] == "B6"


def test_user_objects_outside_a_course_pick_the_first_login(api: Api) -> None:
    body = api.get("/api/v1/users/sis_user_id:S-OLD").json()
    assert (body["id"], body["sis_user_id"], body["integration_id"], body["login_id"]) == (
        5,
        "S-NEW",
        "int-new",
        "amy@x",
    )
    listed = api.all_pages("/api/v1/users/5/enrollments")
    assert {e["user"]["sis_user_id"] for e in listed} == {"S-NEW"}
    assert {e["id"]: e["sis_user_id"] for e in listed} == {1: "S-OLD", 2: "S-NEW", 3: "S-NEW"}


@pytest.mark.parametrize(
    "ref",
    [
        "sis_user_id:S-OLD",
        "sis_user_id:S-NEW",
        "sis_integration_id:int-new",
        "sis_login_id:AMY@X",
        "sis_login_id:nosis@x",
        "hex:sis_user_id:532d4e4557",
    ],
)
def test_any_live_login_finds_the_user(api: Api, ref: str) -> None:
    """lib/api.rb: the users mapping joins pseudonyms; any live one matches (facts §14.3)."""
    assert api.get(f"/api/v1/users/{ref}").json()["id"] == 5
    listed = api.get("/api/v1/courses/2/enrollments", params={"user_id": ref}).json()
    assert [e["id"] for e in listed] == [2]


def test_deleted_logins_find_nobody(api: Api) -> None:
    assert api.get("/api/v1/users/sis_user_id:S-DEL").json() == NOT_FOUND
    assert api.get("/api/v1/users/sis_login_id:del@x").json() == NOT_FOUND


def test_post_by_another_login_reaches_the_same_row(api: Api) -> None:
    """An upsert naming the user by a second SIS id is the same user, so the same row (facts
    §3.4); the API clears the row's sis_pseudonym, so the listed id becomes Canvas's pick."""
    response = api.enroll(1, user_id="sis_user_id:S-NEW", enrollment_state="active")
    assert response.json()["id"] == 1
    assert api.university.simulator.store.enrollments[1].sis_pseudonym_id is None
    row = _listed(api, "/api/v1/courses/1/enrollments", 1)
    assert (row["sis_user_id"], row["user"]["sis_user_id"]) == ("S-NEW", "S-NEW")


def test_sis_user_id_filter_and_created_for_sis_id(api: Api) -> None:
    """sis_user_id[] finds users through any live pseudonym; created_for_sis_id keeps rows
    whose own sis_pseudonym has the id (facts §1.1)."""
    every = api.get("/api/v1/users/5/enrollments", params={"sis_user_id[]": "S-NEW"}).json()
    assert {e["id"] for e in every} == {1, 2, 3}
    made = {"sis_user_id[]": "S-OLD", "created_for_sis_id": "true"}
    assert [e["id"] for e in api.get("/api/v1/users/5/enrollments", params=made).json()] == [1]


def test_seed_refuses_a_login_two_users_share() -> None:
    seed = _seed()
    seed["users"][2]["pseudonyms"].append({"sis_user_id": "S-NEW"})
    with pytest.raises(
        SeedError, match=r"users/2/pseudonyms/1: sis_user_id 'S-NEW' is already used by user 5"
    ):
        Simulator.from_seed(seed)
    seed = _seed()
    seed["users"][2]["pseudonyms"][0]["login_id"] = "AMY@x"  # login ids ignore case
    with pytest.raises(SeedError, match="login_id 'amy@x' is already used by user 5"):
        Simulator.from_seed(seed)
    seed = _seed()
    seed["enrollments"][3]["sis_user_id"] = "S-NEW"
    with pytest.raises(SeedError, match="is not one of user 6's logins"):
        Simulator.from_seed(seed)
