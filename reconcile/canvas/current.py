"""The current state: every enrollment of some courses, as a ``CURRENT_COLUMNS`` frame.

Rows go straight from Canvas's JSON into per-column lists (no record object per row),
and each column becomes a typed pandas array once at the end: on 100,000 enrollments
that is several times faster than building dataclasses first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import pandas as pd

from reconcile.canvas.errors import NotFound
from reconcile.canvas.refs import normalize, segment
from reconcile.frames import CANVAS_STATES, CURRENT_COLUMNS, UTC_TS

if TYPE_CHECKING:
    from reconcile.canvas.client import CanvasClient

# column -> how to read it from one enrollment JSON object (u = its embedded user or {})
_FROM_ENROLLMENT: dict[str, str] = {
    "id": "id",
    "course_id": "course_id",
    "sis_course_id": "sis_course_id",
    "course_section_id": "course_section_id",
    "sis_section_id": "sis_section_id",
    "user_id": "user_id",
    "type": "type",
    "role": "role",
    "role_id": "role_id",
    "state": "enrollment_state",
    "start_at": "start_at",
    "end_at": "end_at",
    "limit_privileges_to_course_section": "limit_privileges_to_course_section",
    "associated_user_id": "associated_user_id",
    "sis_import_id": "sis_import_id",
    "last_attended_at": "last_attended_at",
    "last_activity_at": "last_activity_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "temporary_enrollment_source_user_id": "temporary_enrollment_source_user_id",
}
_FROM_USER: dict[str, str] = {
    "user_integration_id": "integration_id",
    "login_id": "login_id",
    "user_name": "name",
}


class Columns:
    """Accumulates enrollment JSON objects column by column."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {name: [] for name in CURRENT_COLUMNS}

    def add(self, course_ref: str, items: list[dict[str, Any]]) -> None:
        data = self.data
        data["course_ref"].extend([course_ref] * len(items))
        for column, key in _FROM_ENROLLMENT.items():
            data[column].extend([item.get(key) for item in items])
        users = [item.get("user") or {} for item in items]
        for column, key in _FROM_USER.items():
            data[column].extend([user.get(key) for user in users])
        data["linked"].extend([False] * len(items))  # set by reconcile.canvas.state when links are read
        data["last_attended_hidden"].extend(["last_attended_at" not in item for item in items])
        # sis_user_id sits on the enrollment for SIS readers, on the user object otherwise
        data["sis_user_id"].extend(
            [
                item.get("sis_user_id") or user.get("sis_user_id")
                for item, user in zip(items, users, strict=True)
            ]
        )

    def __len__(self) -> int:
        return len(self.data["course_ref"])

    def extend(self, other: Columns) -> None:
        for name, values in other.data.items():
            self.data[name].extend(values)

    def frame(self) -> pd.DataFrame:
        """The accumulated rows as a frame with exactly CURRENT_COLUMNS and their dtypes."""
        arrays: dict[str, Any] = {}
        for name, dtype in CURRENT_COLUMNS.items():
            values = self.data[name]
            if dtype == UTC_TS:
                arrays[name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(UTC_TS)
            else:
                # "string" also turns any non-text value (a number where Canvas sent one) into text
                arrays[name] = pd.array(values, dtype=dtype)
        return pd.DataFrame(arrays, copy=False)


def fetch(
    client: CanvasClient,
    course_refs: Sequence[str],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    states: Sequence[str] | None = None,
) -> pd.DataFrame:
    """See :meth:`CanvasClient.fetch_current`."""
    frames = list(fetch_chunks(client, course_refs, on_progress=on_progress, states=states))
    if not frames:
        return Columns().frame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def fetch_chunks(
    client: CanvasClient,
    course_refs: Sequence[str],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    states: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """See :meth:`CanvasClient.fetch_current_chunks`."""
    # normalised (canvas:N -> N) so rows join with refs from reconcile.ids; a malformed
    # ref fails here, before any request; one fetch per course, order kept
    wanted = list(dict.fromkeys(normalize(ref) for ref in course_refs))
    params = {"state[]": list(states or CANVAS_STATES), "per_page": client.per_page}
    total = len(wanted)
    if on_progress:
        on_progress(0, total)
    if not wanted:
        return

    def one(ref: str) -> Columns:
        columns = Columns()
        path = f"/api/v1/courses/{segment(ref)}/enrollments"
        try:
            for page in client.transport.pages(path, params=params):
                columns.add(ref, page.data)
        except NotFound as exc:
            raise NotFound(
                f"course {ref} not found",
                status=404,
                method=exc.method,
                path=path,
                canvas_message=exc.canvas_message,
            ) from None
        return columns

    workers = max(1, min(client.concurrency, total))
    chunks = _Chunks(wanted)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canvas-fetch") as pool:
        futures: dict[Future[Columns], str] = {pool.submit(one, ref): ref for ref in wanted}
        try:
            # as_completed waits on every future once; calling wait() per completion
            # would re-arm all of them each time (quadratic in the number of courses).
            for done_count, future in enumerate(as_completed(futures), start=1):
                error = future.exception()
                if error is not None:
                    raise error
                ready = chunks.done(futures[future], future.result())
                if on_progress:
                    on_progress(done_count, total)
                if ready is not None:
                    yield ready
        finally:
            # an error, or a consumer that stopped early: courses not started are dropped
            pool.shutdown(wait=True, cancel_futures=True)
    last = chunks.rest()
    if last is not None:
        yield last


class _Chunks:
    """Courses' rows in the order asked, turned into typed frames of whole courses a few
    thousand rows at a time while later courses are still being fetched."""

    ROWS = 5000  # ~10 ms of conversion at a time: short enough not to starve the fetchers

    def __init__(self, order: list[str]) -> None:
        self._order = order
        self._next = 0
        self._waiting: dict[str, Columns] = {}
        self._pending = Columns()

    def done(self, ref: str, columns: Columns) -> pd.DataFrame | None:
        """Take one finished course; a frame when enough rows are ready in order."""
        self._waiting[ref] = columns
        order, waiting = self._order, self._waiting
        while self._next < len(order) and order[self._next] in waiting:
            self._pending.extend(waiting.pop(order[self._next]))
            self._next += 1
        if len(self._pending) < self.ROWS:
            return None
        return self._take()

    def rest(self) -> pd.DataFrame | None:
        """The last rows, once every course is done."""
        return self._take() if len(self._pending) else None

    def _take(self) -> pd.DataFrame:
        frame, self._pending = self._pending.frame(), Columns()
        return frame
