"""Helpers for the simulator tests: a small HTTP client bound to the `university` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import University


class Api:
    """requests with the base URL and a token filled in (admin unless told otherwise)."""

    def __init__(self, university: University, token: str | None = None) -> None:
        self.university = university
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def as_(self, token: str | None) -> Api:
        return Api(self.university, token)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.university.url}{path}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list, following rel="next" links."""
        response = self.get(path, params=params)
        items: list[dict[str, Any]] = []
        while True:
            assert response.status_code == 200, response.text
            items += response.json()
            if "next" not in response.links:
                return items
            response = self.get(response.links["next"]["url"])

    def enroll(self, course: int | str, **fields: Any) -> requests.Response:
        data = {f"enrollment[{k}]": v for k, v in fields.items()}
        return self.post(f"/api/v1/courses/{course}/enrollments", data=data)

    def row(self, enrollment_id: int) -> dict[str, Any]:
        """The raw simulator row (deleted included)."""
        rows = {r["id"]: r for r in self.university.simulator.enrollments()}
        return rows[enrollment_id]


@pytest.fixture
def api(university: University) -> Iterator[Api]:
    client = Api(university, university.token)
    yield client
    client.session.close()
