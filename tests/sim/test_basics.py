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
