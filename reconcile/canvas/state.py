"""The current state the planner diffs, with what Canvas changes from outside the Enrollments
API (facts §14): cross-listed sections and observer links.

- **Cross-listed sections** (facts §14.2). A section cross-listed into another course takes
  its enrollments there; ``GET /courses/:original/enrollments`` no longer lists them, but SIS
  exports keep naming the original course. For each section the roster names under a course
  it has left (``sections``: course ref -> section ids, found by the plan's section lookups),
  the rows come from ``GET /sections/:id/enrollments`` (which lists them wherever the section
  is) and are accounted under the course the roster names (``course_ref``), while
  ``course_id`` stays the course they are in now, so every request goes where Canvas has
  them. Rows of those sections fetched under their current course too (when it is in scope
  as well) are dropped there: one enrollment, one course ref.
- **Observer links** (facts §14.1). With ``links``, every observer row with an observee is
  checked against its observer's links (``GET /users/:id/observees``): one Canvas keeps in
  step with a link gets ``linked = True``. Such rows are Canvas's, not the roster's. A token
  that may not read links (only account admins may) leaves ``linked`` False and says so in
  ``links_unreadable``.

The options are recorded in the plan (``policy.scope.fetch``) so apply's stale check fetches
exactly the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from reconcile.canvas.current import Columns
from reconcile.canvas.errors import Forbidden, NotFound, Unauthorized
from reconcile.canvas.refs import normalize, segment
from reconcile.frames import CANVAS_STATES

if TYPE_CHECKING:
    from reconcile.canvas.client import CanvasClient


@dataclass(frozen=True)
class Links:
    """Active observer links (observer id, student id) of the observers asked about."""

    pairs: frozenset[tuple[int, int]]
    unreadable: bool = False  # the token may not read links: pairs is empty, not "no links"


def fetch_state(
    client: CanvasClient,
    course_refs: Sequence[str],
    *,
    sections: Mapping[str, Sequence[int]] | None = None,
    links: bool = False,
    observers: Iterable[int] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, Links]:
    """Every enrollment of ``course_refs`` in every state, plus the rows of ``sections`` (see
    the module docstring), with ``linked`` set when ``links``. ``observers``: more observer
    ids whose links to read (the roster's own observers), beyond those the rows show."""
    current = client.fetch_current(list(course_refs), on_progress=on_progress)
    wanted = {
        normalize(course): tuple(int(s) for s in ids) for course, ids in (sections or {}).items() if ids
    }
    if wanted:
        current = with_sections(client, current, wanted)
    if not links:
        return current, Links(frozenset())
    return fetch_links(client, current, observers)


def fetch_links(
    client: CanvasClient, current: pd.DataFrame, observers: Iterable[int] = ()
) -> tuple[pd.DataFrame, Links]:
    """``current`` with ``linked`` set on the observer rows an active link keeps, and the links of
    every observer the rows show plus ``observers``."""
    is_observer = (current["type"] == "ObserverEnrollment").to_numpy(dtype=bool) & current[
        "associated_user_id"
    ].notna().to_numpy(dtype=bool)
    ids = set(current.loc[is_observer, "user_id"].dropna().astype("int64").tolist()) | {
        int(i) for i in observers
    }
    found = observer_links(client, sorted(ids))
    if not found.pairs or not is_observer.any():
        return current, found
    pairs = pd.MultiIndex.from_arrays(
        [
            current["user_id"].astype("Int64").fillna(-1).astype("int64"),
            current["associated_user_id"].astype("Int64").fillna(-1).astype("int64"),
        ]
    )
    linked = is_observer & pairs.isin(list(found.pairs))
    return current.assign(linked=pd.array(linked, dtype="boolean")), found


def with_sections(
    client: CanvasClient, current: pd.DataFrame, sections: Mapping[str, Sequence[int]]
) -> pd.DataFrame:
    """``current`` plus the rows of each course's cross-listed ``sections``, accounted under that
    course (and no longer under the course they are in now)."""
    params = {"state[]": list(CANVAS_STATES), "per_page": client.per_page}
    jobs = [(course, section) for course, ids in sections.items() for section in ids]

    def one(job: tuple[str, int]) -> Columns:
        course, section = job
        columns = Columns()
        try:
            for page in client.transport.pages(
                f"/api/v1/sections/{segment(section)}/enrollments", params=params
            ):
                columns.add(course, page.data)
        except NotFound:
            pass  # the section is gone: the stale check sees its rows missing
        return columns

    with ThreadPoolExecutor(max_workers=max(1, min(client.concurrency, len(jobs)))) as pool:
        parts = list(pool.map(one, jobs))
    moved = {section for _, section in jobs}
    keep = ~current["course_section_id"].isin(list(moved)).to_numpy(dtype=bool)
    frames = [current[keep]] + [part.frame() for part in parts if len(part)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def observer_links(client: CanvasClient, observer_ids: Sequence[int]) -> Links:
    """The active links of each observer (``GET /users/:id/observees``), concurrently.

    :calls: GET /api/v1/users/:user_id/observees
    """
    if not observer_ids:
        return Links(frozenset())

    def one(observer: int) -> list[tuple[int, int]] | None:
        try:
            return [
                (observer, int(item["id"])) for item in client._list(f"/api/v1/users/{observer}/observees")
            ]
        except (Unauthorized, Forbidden):
            return None
        except NotFound:
            return []  # a deleted observer has no links

    with ThreadPoolExecutor(max_workers=max(1, min(client.concurrency, len(observer_ids)))) as pool:
        answers = list(pool.map(one, observer_ids))
    if any(answer is None for answer in answers):
        return Links(frozenset(), unreadable=True)
    return Links(frozenset(pair for answer in answers if answer for pair in answer))


def fetch_options(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The fetch options a plan recorded (``policy.scope.fetch``), as :func:`fetch_state` takes them."""
    recorded = (policy.get("scope") or {}).get("fetch") or {}
    options: dict[str, Any] = {}
    if recorded.get("sections"):
        options["sections"] = {str(k): tuple(int(v) for v in ids) for k, ids in recorded["sections"].items()}
    if recorded.get("links"):
        options["links"] = True
    return options
