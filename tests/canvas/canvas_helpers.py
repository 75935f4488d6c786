"""Helpers for the Canvas client tests (imported by tests/canvas/conftest.py and the tests).

``scripted`` is a tiny real HTTP server on 127.0.0.1 whose answers a test scripts, for
cases that need an exact byte-level answer (a dropped connection mid-body, a given
error body, a throttle on the third request). Everything Canvas-shaped beyond that runs
against the simulator.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token-6b1f0c2e9a"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes/str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer


Script = Callable[[Seen, int], Answer]


class ScriptedServer:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.script: Script = lambda seen, n: Answer(body=[])
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                with outer._lock:
                    outer.seen.append(seen)
                    number = len(outer.seen)
                answer = outer.script(seen, number)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if isinstance(answer.body, bytes):
                    payload = answer.body
                elif isinstance(answer.body, str):
                    payload = answer.body.encode()
                else:
                    payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTime:
    """A clock whose sleep advances it instantly, for tests that must take no wall time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
UNIVERSITY = ROOT / "examples" / "sim" / "university.yaml"
ADMIN = "demo-admin-token"


def university_seed() -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(UNIVERSITY.read_text(encoding="utf-8"))
    return data


def many_seed(
    courses: int, per_course: int, *, course_sis: Callable[[int], str] | None = None
) -> dict[str, Any]:
    """A seed with ``courses`` courses of ``per_course`` enrollments each (all states mixed),
    on top of the university's accounts, terms, roles and tokens."""
    base = university_seed()
    states = ["active", "invited", "inactive", "completed", "deleted", "rejected", "creation_pending"]
    seed: dict[str, Any] = {k: base[k] for k in ("now", "accounts", "terms", "roles")}
    seed["tokens"] = [t for t in base["tokens"] if t["user_id"] == 1]
    seed["users"] = [u for u in base["users"] if u["id"] == 1]
    seed["users"] += [
        {
            "id": 1000 + n,
            "name": f"User {n:05d}",
            "sortable_name": f"{n:05d}, User",
            "sis_user_id": f"U{n:05d}",
            "login_id": f"u{n}@x.edu",
        }
        for n in range(per_course)
    ]
    seed["courses"], seed["sections"], seed["enrollments"] = [], [], []
    eid = 1
    for c in range(courses):
        cid = 5000 + c
        sis = course_sis(c) if course_sis else f"C{c:05d}"
        seed["courses"].append(
            {
                "id": cid,
                "name": f"Course {c}",
                "sis_course_id": sis,
                "account_id": 2,
                "enrollment_term_id": 2,
                "workflow_state": "available",
            }
        )
        seed["sections"].append(
            {"id": cid, "course_id": cid, "name": f"Section {c}", "sis_section_id": f"{sis}-01"}
        )
        for n in range(per_course):
            seed["enrollments"].append(
                {
                    "id": eid,
                    "user_id": 1000 + n,
                    "course_id": cid,
                    "course_section_id": cid,
                    "type": "StudentEnrollment",
                    "workflow_state": states[n % len(states)],
                }
            )
            eid += 1
    return seed
