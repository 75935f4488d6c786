"""A small in-memory Canvas behind the Sender protocol, for unit tests of the executor.

It follows the facts sheet where the executor cares: POST is an upsert on
(course, section, user, role, associated user) that revives rows in place; DELETE on a
deleted row is 404; reactivate only from inactive (else 400); GET through the account
route also returns deleted rows; the course list filters by user_id and state[].
End-to-end tests use the real simulator instead.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from reconcile.canvas.errors import BadRequest, CanvasError, NotFound, TransportError, Unauthorized
from reconcile.plan import Action, Operation, Request, Target

_POST = re.compile(r"^/api/v1/courses/([^/]+)/enrollments$")
_ONE = re.compile(r"^/api/v1/courses/([^/]+)/enrollments/(\d+)$")
_REACTIVATE = re.compile(r"^/api/v1/courses/([^/]+)/enrollments/(\d+)/reactivate$")
_LAST = re.compile(r"^/api/v1/courses/([^/]+)/users/([^/]+)/last_attended$")
_SHOW = re.compile(r"^/api/v1/accounts/self/enrollments/(\d+)$")
_TASK_STATE = {"delete": "deleted", "conclude": "completed", "inactivate": "inactive"}


@dataclass
class FakeCanvas:
    enrollments: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)  # user ref -> Canvas user id
    writes: list[tuple[str, str]] = field(default_factory=list)  # (method, path) in order
    reads: int = 0
    fail: dict[str, CanvasError] = field(default_factory=dict)  # path -> error raised every time
    lose_answer: set[str] = field(default_factory=set)  # paths whose answer is lost after the effect
    fail_reads: bool = False  # every GET fails as if the connection dropped
    fail_writes: CanvasError | None = None  # raised by every write, before it takes effect
    latency: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    token_ok: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def user_id(self, ref: str) -> int:
        if ref.isdigit():
            return int(ref)
        return self.users.setdefault(ref, 1000 + len(self.users))

    def add(self, course: str, user: str, role: str, state: str, *, section: str = "default") -> int:
        eid = len(self.enrollments) + 1
        self.enrollments[eid] = {
            "id": eid,
            "course": course,
            "section": section,
            "user_id": self.user_id(user),
            "role": role,
            "enrollment_state": state,
            "associated_user_id": None,
        }
        return eid

    def send(self, request: Request) -> Any:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                return self._handle(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle(self, request: Request) -> Any:
        if not self.token_ok:
            raise Unauthorized("HTTP 401", status=401, canvas_message="Invalid access token.")
        if request.path in self.fail:
            raise self.fail[request.path]
        if request.method == "GET":
            self.reads += 1
            if self.fail_reads:
                raise TransportError("connection reset", method="GET", path=request.path)
            listing = _POST.match(request.path)
            if listing:  # GET /courses/:c/enrollments?user_id=... (the executor's read-back)
                user = self.user_id(str(request.params["user_id"]))
                wanted = set(request.params.get("state[]", ()))
                return [
                    self._json(eid)
                    for eid, row in self.enrollments.items()
                    if row["course"] == listing.group(1)
                    and row["user_id"] == user
                    and (not wanted or row["enrollment_state"] in wanted)
                ]
            m = _SHOW.match(request.path)
            if not m or int(m.group(1)) not in self.enrollments:
                raise NotFound(
                    "HTTP 404", status=404, canvas_message="The specified resource does not exist."
                )
            return self._json(int(m.group(1)))
        if self.fail_writes is not None:
            raise self.fail_writes
        self.writes.append((request.method, request.path))
        result = self._write(request)
        if request.path in self.lose_answer:
            self.lose_answer.discard(request.path)
            raise TransportError("connection reset", method=request.method, path=request.path)
        return result

    def _write(self, request: Request) -> Any:
        p = request.params
        if m := _POST.match(request.path):
            assert not any(isinstance(v, dict) for v in p.values()), f"placeholder sent: {p}"
            key = (
                m.group(1),
                p.get("enrollment[course_section_id]", "default"),
                self.user_id(str(p["enrollment[user_id]"])),
                p.get("enrollment[role]", "StudentEnrollment"),
                p.get("enrollment[associated_user_id]"),
            )
            for eid, row in self.enrollments.items():
                if (
                    row["course"],
                    row["section"],
                    row["user_id"],
                    row["role"],
                    row["associated_user_id"],
                ) == key:
                    row["enrollment_state"] = p.get("enrollment[enrollment_state]", "invited")
                    return self._json(eid)
            eid = self.add(
                key[0], str(key[2]), key[3], p.get("enrollment[enrollment_state]", "invited"), section=key[1]
            )
            self.enrollments[eid]["associated_user_id"] = key[4]
            return self._json(eid)
        if m := _REACTIVATE.match(request.path):
            row = self._live(int(m.group(2)))
            if row["enrollment_state"] != "inactive":
                raise BadRequest("HTTP 400", status=400, canvas_message="enrollment not inactive")
            row["enrollment_state"] = "active"
            return self._json(row["id"])
        if m := _ONE.match(request.path):
            row = self._live(int(m.group(2)))
            row["enrollment_state"] = _TASK_STATE[p.get("task", "conclude")]
            return self._json(row["id"])
        if _LAST.match(request.path):
            return {"date": p["date"]}
        raise AssertionError(f"unexpected request {request}")

    def _live(self, eid: int) -> dict[str, Any]:
        row = self.enrollments.get(eid)
        if row is None or row["enrollment_state"] == "deleted":
            raise NotFound("HTTP 404", status=404, canvas_message="The specified resource does not exist.")
        return row

    def _json(self, eid: int) -> dict[str, Any]:
        row = self.enrollments[eid]
        return {
            "id": eid,
            "user_id": row["user_id"],
            "enrollment_state": row["enrollment_state"],
            "role": row["role"],
            "associated_user_id": row["associated_user_id"],
            "grades": {"html_url": "x"},  # nested: must not reach the journal
        }


def enroll(
    course: str, user: str, *, role: str = "StudentEnrollment", op_id: str | None = None, **extra: Any
) -> Operation:
    params = {"enrollment[user_id]": user, "enrollment[role]": role, "enrollment[enrollment_state]": "active"}
    params.update(extra.pop("params", {}))
    return Operation(
        id=op_id or f"enroll-{course}-{user}-{role}",
        action=Action.ENROLL,
        target=Target(course, extra.pop("section", None), user, role, extra.pop("associated_user", None)),
        request=Request("POST", f"/api/v1/courses/{course}/enrollments", params),
        reason="missing_in_canvas",
        after={"state": "active"},
        **extra,
    )


def drop(
    course: str, user: str, eid: int, *, task: str = "delete", op_id: str | None = None, **extra: Any
) -> Operation:
    action = {"delete": Action.DELETE, "conclude": Action.CONCLUDE, "inactivate": Action.INACTIVATE}[task]
    return Operation(
        id=op_id or f"{task}-{eid}",
        action=action,
        target=Target(course, None, user, "StudentEnrollment"),
        request=Request("DELETE", f"/api/v1/courses/{course}/enrollments/{eid}", {"task": task}),
        reason="absent_from_roster",
        before={"id": eid, "state": "active"},
        **extra,
    )


def reactivate(course: str, user: str, eid: int) -> Operation:
    return Operation(
        id=f"reactivate-{eid}",
        action=Action.REACTIVATE,
        target=Target(course, None, user, "StudentEnrollment"),
        request=Request("PUT", f"/api/v1/courses/{course}/enrollments/{eid}/reactivate"),
        reason="state_differs",
        before={"id": eid, "state": "inactive"},
    )


def last_attended(course: str, user_id: int) -> Operation:
    return Operation(
        id=f"last-{course}-{user_id}",
        action=Action.SET_LAST_ATTENDED,
        target=Target(course, None, str(user_id), "StudentEnrollment"),
        request=Request(
            "PUT", f"/api/v1/courses/{course}/users/{user_id}/last_attended", {"date": "2026-09-01T00:00:00Z"}
        ),
        reason="attributes_differ",
    )


def make_plan(
    *operations: Operation,
    plan_id: str = "plan-1",
    guards: tuple[Any, ...] = (),
    fingerprints: dict[str, str] | None = None,
) -> Any:
    from reconcile.plan import Plan

    summary: dict[str, int] = {}
    for op in operations:
        summary[op.action.value] = summary.get(op.action.value, 0) + 1
    return Plan(
        plan_id=plan_id,
        created_at="2026-11-27T00:00:00Z",
        tool_version="test",
        canvas_url=None,
        inputs=(),
        policy={},
        fingerprints=fingerprints or {},
        operations=tuple(operations),
        summary=summary,
        guards=guards,
    )


def current_frame(canvas: FakeCanvas, course_refs: Any) -> Any:
    """The fake's enrollments of ``course_refs`` as a CURRENT_COLUMNS frame."""
    import pandas as pd

    from reconcile.frames import CURRENT_COLUMNS, conform

    users = {v: k for k, v in canvas.users.items()}
    rows = [
        {
            "id": eid,
            "course_ref": row["course"],
            "user_id": row["user_id"],
            "sis_user_id": users.get(row["user_id"], "").partition(":")[2] or None,
            "role": row["role"],
            "type": row["role"],
            "state": row["enrollment_state"],
            "associated_user_id": row["associated_user_id"],
        }
        for eid, row in canvas.enrollments.items()
        if row["course"] in set(course_refs)
    ]
    return conform(pd.DataFrame(rows), CURRENT_COLUMNS)


class FakeClient(FakeCanvas):
    """The fake Canvas plus ``fetch_current``, as apply_plan needs."""

    def fetch_current(self, course_refs: Any) -> Any:
        with self._lock:
            return current_frame(self, course_refs)
