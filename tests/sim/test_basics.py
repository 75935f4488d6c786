"""The simulator serves, authenticates and paginates: the basics every client relies on."""

from __future__ import annotations

import requests

from tests.conftest import University


def _get(university: University, path: str, **params: object) -> requests.Response:
    return requests.get(
        f"{university.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {university.token}"},
        timeout=10,
    )


def test_course_list_pages_follow_link_headers_to_the_end(university: University) -> None:
    seen: list[int] = []
    response = _get(university, "/api/v1/courses/101/enrollments", per_page=4)
    pages = 0
    while True:
        assert response.status_code == 200
        pages += 1
        seen += [e["id"] for e in response.json()]
        if "next" not in response.links:
            break
        response = requests.get(
            response.links["next"]["url"], headers={"Authorization": f"Bearer {university.token}"}, timeout=10
        )
    # admin default: everything but rejected, completed, deleted (facts §1.2); inactive included
    expected = {
        r["id"]
        for r in university.simulator.enrollments()
        if r["course_id"] == 101 and r["workflow_state"] not in ("rejected", "completed", "deleted")
    }
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    assert pages == -(-len(expected) // 4)


def test_bad_token_gets_canvas_401(university: University) -> None:
    response = requests.get(
        f"{university.url}/api/v1/courses/101/enrollments",
        headers={"Authorization": "Bearer nope"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid access token."}]}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'


def test_token_of_a_deleted_user_is_invalid(university: University) -> None:
    from reconcile.sim.model import Token

    university.simulator.store.add_token(Token(token="gone-token", user_id=41))
    response = requests.get(
        f"{university.url}/api/v1/users/self/enrollments",
        headers={"Authorization": "Bearer gone-token"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid access token."}]}


def test_access_token_parameter_and_form_body_authenticate(university: University) -> None:
    listed = requests.get(
        f"{university.url}/api/v1/courses/101/enrollments",
        params={"access_token": university.token},
        timeout=10,
    )
    assert listed.status_code == 200
    posted = requests.post(
        f"{university.url}/api/v1/courses/102/enrollments",
        data={
            "access_token": university.token,
            "enrollment[user_id]": "26",
            "enrollment[course_section_id]": "203",
        },
        timeout=10,
    )
    assert posted.status_code == 200 and posted.json()["user_id"] == 26
