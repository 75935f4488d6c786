"""``CanvasClient``: the Enrollments API (all thirteen endpoints), account courses,
Progress, the current-state fetch the planner diffs, and raw ``send`` for apply.

Ids are refs (:mod:`reconcile.canvas.refs`): numbers, ``canvas:N`` or SIS forms such as
``sis_course_id:MATH101``, escaped for the path. Lists follow Link next verbatim with
``per_page`` (100 by default). One :class:`~reconcile.canvas.transport.Transport` (one
Session, one rate limiter) serves every thread of the client.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from reconcile.canvas import current, state
from reconcile.canvas.errors import CanvasError, ConfigError, TransportError
from reconcile.canvas.params import enrollment_filters, enrollment_params, id_param, numbered_pages, rails
from reconcile.canvas.ratelimit import Clock, RateLimiter, Sleep
from reconcile.canvas.records import Course, Enrollment, Progress, TemporaryEnrollmentStatus, parse_time
from reconcile.canvas.refs import segment
from reconcile.canvas.settings import resolve
from reconcile.canvas.transport import ClientStats, Transport
from reconcile.config import CanvasSettings

if TYPE_CHECKING:
    import random

    import pandas as pd

    from reconcile.plan import Request

EndTask = Literal["conclude", "delete", "inactivate", "deactivate"]
_ENROLLMENT_POST = re.compile(r"\A/api/v1/(courses|sections)/[^/]+/enrollments\Z")


class CanvasClient:
    """A Canvas API client for one base URL and token. Thread-safe; use as a context manager.

    ``concurrency`` bounds requests in flight (the rate limiter may hold it lower);
    ``pacing`` (default) paces requests to a model of Canvas's bucket, False keeps the
    limiter's earlier AIMD cap on requests in flight, ``adaptive=False`` a fixed cap
    (:mod:`reconcile.canvas.ratelimit`);
    ``timeout`` is seconds per request (or ``(connect, read)``); ``retries`` bounds the
    retries of a transient failure; ``throttle_retries`` those of a throttled request.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        concurrency: int = 8,
        timeout: float | tuple[float, float] = 30.0,
        retries: int = 5,
        per_page: int = 100,
        throttle_retries: int = 12,
        adaptive: bool = True,
        pacing: bool = True,
        account_id: str = "self",
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        base, token = resolve(url=base_url, token=token, env={})
        if concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if not 1 <= per_page <= 100:
            raise ConfigError("per_page must be between 1 and 100 (Canvas caps it at 100)")
        limiter_args: dict[str, Any] = {
            "max_in_flight": concurrency,
            "adaptive": adaptive,
            "pacing": pacing,
            "rng": rng,
        }
        if clock is not None:
            limiter_args["clock"] = clock
        if sleep is not None:
            limiter_args["sleep"] = sleep
        self.limiter = RateLimiter(**limiter_args)
        self.transport = Transport(
            base,
            token,
            limiter=self.limiter,
            timeout=timeout,
            retries=retries,
            throttle_retries=throttle_retries,
            pool_size=concurrency,
        )
        self.base_url = base
        self.concurrency = concurrency
        self.per_page = per_page
        self.account_id = account_id

    @classmethod
    def from_env(
        cls,
        settings: CanvasSettings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> CanvasClient:
        """A client from ``CANVAS_API_URL`` / ``CANVAS_API_TOKEN`` (the env URL overrides
        ``settings.url``) and the other ``settings``. Raises ConfigError when either is missing."""
        settings = settings or CanvasSettings()
        environ = os.environ if env is None else env
        base, token = resolve(url=settings.url, token=None, env=environ)
        kwargs: dict[str, Any] = {
            "concurrency": settings.concurrency,
            "timeout": settings.timeout,
            "retries": settings.retries,
            "per_page": settings.per_page,
            "account_id": settings.account_id,
        }
        kwargs.update(options)
        return cls(base, token, **kwargs)

    def __enter__(self) -> CanvasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections. The client cannot be used afterwards."""
        self.transport.close()

    def __repr__(self) -> str:
        return f"CanvasClient({self.base_url!r}, concurrency={self.concurrency})"

    @property
    def stats(self) -> ClientStats:
        """Requests, retries, throttled answers, failures so far (a frozen snapshot)."""
        return self.transport.stats

    # -- raw -------------------------------------------------------------------------

    def send(self, request: Request) -> Any:
        """Perform exactly ``request`` (from a plan) and return its parsed JSON.

        GET/DELETE params go in the query string, POST/PUT params in a form body. Enrollment
        POSTs are upserts (facts §3.4) and are retried like GET/PUT/DELETE; other POSTs
        (accept, reject, bulk) only when they never reached Canvas.

        :calls: any VERB /api/v1/...
        """
        method = request.method.upper()
        path = request.path
        if not path.startswith("/api/v1/"):
            raise ValueError(f"request path must start with /api/v1/: {path!r}")
        path_only = urlsplit(path).path
        idempotent = method in {"GET", "PUT", "DELETE"} or bool(_ENROLLMENT_POST.match(path_only))
        params = dict(request.params)
        if method in {"GET", "DELETE"}:
            answer = self.transport.request(method, path, params=params, idempotent=idempotent)
        else:
            answer = self.transport.request(method, path, data=params, idempotent=idempotent)
        return answer.data

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.transport.request("GET", path, params=params).data

    def _list(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        query = dict(params or {})
        query.setdefault("per_page", self.per_page)
        for page in self.transport.pages(path, params=query):
            if not isinstance(page.data, list):
                raise CanvasError("expected a JSON list", method="GET", path=path)
            yield from page.data

    # -- GET lists (facts §1) ----------------------------------------------------------

    def course_enrollments(self, course: str | int, **filters: Any) -> Iterator[Enrollment]:
        """Every enrollment of ``course`` matching ``filters`` (see :func:`enrollment_filters`).

        Without ``state`` Canvas applies its default (facts §1.2), which hides completed,
        deleted and rejected rows.

        :calls: GET /api/v1/courses/:course_id/enrollments
        """
        path = f"/api/v1/courses/{segment(course)}/enrollments"
        for item in self._list(path, enrollment_filters(**filters)):
            yield Enrollment.from_json(item)

    def section_enrollments(self, section: str | int, **filters: Any) -> Iterator[Enrollment]:
        """Every enrollment of ``section`` matching ``filters``.

        :calls: GET /api/v1/sections/:section_id/enrollments
        """
        path = f"/api/v1/sections/{segment(section)}/enrollments"
        for item in self._list(path, enrollment_filters(**filters)):
            yield Enrollment.from_json(item)

    def user_enrollments(self, user: str | int, **filters: Any) -> Iterator[Enrollment]:
        """Every enrollment of ``user`` matching ``filters`` (``state`` values per facts §1.1).

        :calls: GET /api/v1/users/:user_id/enrollments
        """
        path = f"/api/v1/users/{segment(user)}/enrollments"
        for item in self._list(path, enrollment_filters(**filters)):
            yield Enrollment.from_json(item)

    def get_enrollment(self, enrollment_id: str | int, *, account: str | int | None = None) -> Enrollment:
        """One enrollment by id, deleted ones included. ``account`` must be the root account.

        :calls: GET /api/v1/accounts/:account_id/enrollments/:id
        """
        path = f"/api/v1/accounts/{segment(account or self.account_id)}/enrollments/{segment(enrollment_id)}"
        return Enrollment.from_json(self._get(path))

    # -- create (facts §3) -------------------------------------------------------------

    def enroll_in_course(self, course: str | int, user: str | int, **attributes: Any) -> Enrollment:
        """Enroll (or upsert, facts §3.4) ``user`` in ``course``; ``attributes`` as :func:`enrollment_params`.

        :calls: POST /api/v1/courses/:course_id/enrollments
        """
        path = f"/api/v1/courses/{segment(course)}/enrollments"
        data = enrollment_params(user, **attributes)
        return Enrollment.from_json(self.transport.request("POST", path, data=data, idempotent=True).data)

    def enroll_in_section(self, section: str | int, user: str | int, **attributes: Any) -> Enrollment:
        """Enroll (or upsert) ``user`` in ``section``.

        :calls: POST /api/v1/sections/:section_id/enrollments
        """
        path = f"/api/v1/sections/{segment(section)}/enrollments"
        data = enrollment_params(user, **attributes)
        return Enrollment.from_json(self.transport.request("POST", path, data=data, idempotent=True).data)

    def bulk_enroll(
        self,
        user_ids: Sequence[str | int],
        course_ids: Sequence[str | int],
        *,
        account: str | int | None = None,
        enrollment_type: str | None = None,
        enrollment_role_id: int | None = None,
    ) -> Progress:
        """Queue a bulk enrollment of every user into every course (at most 500 pairs).

        Canvas sends notifications for these and uses its default state (facts §4). Not
        retried after it may have reached Canvas: a repeat would queue a second job.

        :calls: POST /api/v1/accounts/:account_id/bulk_enrollment
        """
        data: list[tuple[str, Any]] = [("user_ids[]", id_param(u)) for u in user_ids]
        data += [("course_ids[]", id_param(c)) for c in course_ids]
        if enrollment_type is not None:
            data.append(("enrollment_type", enrollment_type))
        if enrollment_role_id is not None:
            data.append(("enrollment_role_id", enrollment_role_id))
        path = f"/api/v1/accounts/{segment(account or self.account_id)}/bulk_enrollment"
        return Progress.from_json(self.transport.request("POST", path, data=data).data)

    def get_progress(self, progress_id: str | int) -> Progress:
        """The current state of a Progress.

        :calls: GET /api/v1/progress/:id
        """
        return Progress.from_json(self._get(f"/api/v1/progress/{segment(progress_id)}"))

    def wait_for_progress(
        self, progress: Progress | int, *, interval: float = 0.5, timeout: float = 600.0
    ) -> Progress:
        """Poll until the Progress is completed, failed or canceled; return its last state.

        Raises TransportError if it is still running after ``timeout`` seconds. Polling
        backs off gently (x1.5 up to 5 s) so a long job costs few requests.

        :calls: GET /api/v1/progress/:id
        """
        state = progress if isinstance(progress, Progress) else self.get_progress(progress)
        clock, sleep = self.limiter.clock, self.limiter.sleep
        deadline = clock() + timeout
        delay = interval
        while not state.done:
            if clock() >= deadline:
                raise TransportError(
                    f"progress {state.id} still {state.workflow_state} after {timeout:.0f}s",
                    method="GET",
                    path=f"/api/v1/progress/{state.id}",
                )
            sleep(delay)
            delay = min(5.0, delay * 1.5)
            state = self.get_progress(state.id)
        return state

    # -- state changes (facts §5) ----------------------------------------------------

    def end_enrollment(
        self, course: str | int, enrollment_id: str | int, *, task: EndTask = "conclude"
    ) -> Enrollment:
        """Conclude (completed), delete (soft) or inactivate an enrollment; returns it after.

        A deleted enrollment answers 404 (NotFound).

        :calls: DELETE /api/v1/courses/:course_id/enrollments/:id
        """
        if task not in {"conclude", "delete", "inactivate", "deactivate"}:
            raise ValueError(f"unknown task {task!r}")
        path = f"/api/v1/courses/{segment(course)}/enrollments/{segment(enrollment_id)}"
        return Enrollment.from_json(self.transport.request("DELETE", path, params={"task": task}).data)

    def conclude_enrollment(self, course: str | int, enrollment_id: str | int) -> Enrollment:
        """:calls: DELETE /api/v1/courses/:course_id/enrollments/:id (task=conclude)"""
        return self.end_enrollment(course, enrollment_id, task="conclude")

    def delete_enrollment(self, course: str | int, enrollment_id: str | int) -> Enrollment:
        """:calls: DELETE /api/v1/courses/:course_id/enrollments/:id (task=delete)"""
        return self.end_enrollment(course, enrollment_id, task="delete")

    def inactivate_enrollment(self, course: str | int, enrollment_id: str | int) -> Enrollment:
        """:calls: DELETE /api/v1/courses/:course_id/enrollments/:id (task=inactivate)"""
        return self.end_enrollment(course, enrollment_id, task="inactivate")

    def accept_enrollment(self, course: str | int, enrollment_id: str | int) -> bool:
        """Accept an invitation (only the enrollment's own user may); True on success.

        :calls: POST /api/v1/courses/:course_id/enrollments/:id/accept
        """
        path = f"/api/v1/courses/{segment(course)}/enrollments/{segment(enrollment_id)}/accept"
        return bool(self.transport.request("POST", path).data.get("success"))

    def reject_enrollment(self, course: str | int, enrollment_id: str | int) -> bool:
        """Reject an invitation (only the enrollment's own user may); True on success.

        :calls: POST /api/v1/courses/:course_id/enrollments/:id/reject
        """
        path = f"/api/v1/courses/{segment(course)}/enrollments/{segment(enrollment_id)}/reject"
        return bool(self.transport.request("POST", path).data.get("success"))

    def reactivate_enrollment(self, course: str | int, enrollment_id: str | int) -> Enrollment:
        """Make an ``inactive`` enrollment active (400 from any other state).

        :calls: PUT /api/v1/courses/:course_id/enrollments/:id/reactivate
        """
        path = f"/api/v1/courses/{segment(course)}/enrollments/{segment(enrollment_id)}/reactivate"
        return Enrollment.from_json(self.transport.request("PUT", path).data)

    def set_last_attended(
        self, course: str | int, user: str | int, date: dt.datetime | str
    ) -> dt.datetime | None:
        """Set last_attended_at on every enrollment of ``user`` in ``course``; returns the stored date.

        Canvas matches the raw path ids (facts §5.5): pass Canvas ids, not SIS forms.

        :calls: PUT /api/v1/courses/:course_id/users/:user_id/last_attended
        """
        path = f"/api/v1/courses/{segment(course)}/users/{segment(user)}/last_attended"
        answer = self.transport.request("PUT", path, data={"date": date}).data
        return parse_time(answer.get("date")) if isinstance(answer, dict) else None

    def temporary_enrollment_status(
        self, user: str | int, *, account: str | int | None = None
    ) -> TemporaryEnrollmentStatus:
        """Whether ``user`` provides or receives temporary enrollments (BETA endpoint).

        :calls: GET /api/v1/users/:user_id/temporary_enrollment_status
        """
        params = {"account_id": id_param(account)} if account is not None else None
        path = f"/api/v1/users/{segment(user)}/temporary_enrollment_status"
        return TemporaryEnrollmentStatus.from_json(self._get(path, params))

    # -- courses ---------------------------------------------------------------------

    def account_courses(self, account: str | int | None = None, **filters: Any) -> list[Course]:
        """Every course of ``account`` (Rails-style ``filters`` such as ``state=[...]``,
        ``enrollment_term_id``, ``search_term``).

        When Canvas numbers the pages and names the last one, the remaining pages are
        fetched concurrently; with bookmarks they are followed one by one.

        :calls: GET /api/v1/accounts/:account_id/courses
        """
        path = f"/api/v1/accounts/{segment(account or self.account_id)}/courses"
        params = rails(filters)
        params.setdefault("per_page", self.per_page)
        first = self.transport.request("GET", path, params=params)
        items: list[dict[str, Any]] = list(first.data)
        urls = numbered_pages(first.links)
        if urls is None:
            following = first.links.get("next")
            if following:
                for page in self.transport.pages(following):
                    items.extend(page.data)
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for page_items in pool.map(lambda u: self._get(u), urls):
                    items.extend(page_items)
        return [Course.from_json(item) for item in items]

    # -- the current state the planner diffs -------------------------------------------

    def fetch_current(
        self,
        course_refs: Sequence[str],
        *,
        on_progress: Callable[[int, int], None] | None = None,
        states: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Every enrollment of those courses in every state, as a CURRENT_COLUMNS frame.

        Courses are fetched concurrently; each course's pages follow Link next. ``course_ref``
        is the ref a row was fetched under, normalised (``canvas:N`` -> ``N``). ``states`` narrows ``state[]`` (default: all
        seven). ``on_progress(done, total)`` is called after each course. Raises NotFound
        naming the course when a course does not exist.
        """
        return current.fetch(self, course_refs, on_progress=on_progress, states=states)

    def fetch_state(
        self,
        course_refs: Sequence[str],
        *,
        sections: Mapping[str, Sequence[int]] | None = None,
        links: bool = False,
        observers: Sequence[int] = (),
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[pd.DataFrame, state.Links]:
        """:meth:`fetch_current` plus what Canvas changes from outside the Enrollments API: the
        rows of cross-listed ``sections`` the roster names under another course, and (with
        ``links``) which observer rows an observer link keeps (see :mod:`reconcile.canvas.state`).

        :calls: GET /api/v1/sections/:section_id/enrollments, GET /api/v1/users/:user_id/observees
        """
        return state.fetch_state(
            self, course_refs, sections=sections, links=links, observers=observers, on_progress=on_progress
        )

    def fetch_current_chunks(
        self,
        course_refs: Sequence[str],
        *,
        on_progress: Callable[[int, int], None] | None = None,
        states: Sequence[str] | None = None,
    ) -> Iterator[pd.DataFrame]:
        """:meth:`fetch_current` a few thousand rows at a time, for callers that stream
        (``reconcile export`` writes each chunk while later courses are still being fetched).

        Each chunk is a CURRENT_COLUMNS frame of whole courses, in the order asked;
        concatenated they equal ``fetch_current``. Stopping early (closing the iterator)
        drops the courses not yet started.
        """
        return current.fetch_chunks(self, course_refs, on_progress=on_progress, states=states)
