"""Asking Canvas about roster refs that no fetched enrollment shows, before anything is planned
for them (issue #11): does this user exist, is this a section of that course?

- Users: ``GET /api/v1/users/:ref`` for each ref (SIS, integration and login forms resolve
  through any of the user's logins, facts §9, §14.3). A 404 means "no such user" only when
  the token may see users at all: ``users_controller#api_show`` answers 404, not 403, to a
  caller without ``:api_show_user`` (an account admin's right; a teacher's token gets 404 for
  every user but itself). So the first 404 is checked against a user Canvas certainly has
  (one already enrolled in a fetched course): if that one is "not found" too, the token cannot
  tell, and the answer is *undecided* rather than "unknown".
- Sections: ``GET /api/v1/courses/:course/sections`` once per course that a roster row names
  a section of that no fetched enrollment shows; a section not listed is looked up by itself
  (``GET /api/v1/sections/:ref``), which finds it wherever it is now (facts §14.2).

Every request goes through the client's transport (one rate limiter, counted in its stats),
several at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconcile.canvas.errors import NotFound
from reconcile.canvas.records import Section
from reconcile.canvas.refs import segment

if TYPE_CHECKING:
    from reconcile.canvas.client import CanvasClient


@dataclass(frozen=True)
class UserAnswers:
    """``found``: ref -> Canvas user id; ``missing``: refs Canvas says it does not have;
    ``undecided``: True when the token cannot see users, so ``missing`` is empty."""

    found: dict[str, int] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()
    undecided: bool = False


def look_up_users(client: CanvasClient, refs: Sequence[str], *, known_user_ids: Sequence[int]) -> UserAnswers:
    """What Canvas says of each user ref (see the module docstring). ``known_user_ids``: users
    Canvas certainly has (enrolled in a fetched course), to tell "no such user" from "this
    token may not see users"; the token's own user does not count, since anyone may see
    themselves."""
    if not refs:
        return UserAnswers()
    answers = _concurrently(client, lambda ref: _user_id(client, ref), refs)
    found = {ref: uid for ref, uid in answers.items() if uid is not None}
    missing = frozenset(ref for ref, uid in answers.items() if uid is None)
    if missing and not _may_see_users(client, known_user_ids, found.values()):
        return UserAnswers(found=found, undecided=True)
    return UserAnswers(found=found, missing=missing)


def _may_see_users(client: CanvasClient, known: Sequence[int], found: Iterable[int]) -> bool:
    me = _user_id(client, "self")
    if any(uid != me for uid in found):
        return True  # it just saw someone else
    probe = next((uid for uid in known if uid != me), None)
    return probe is not None and _user_id(client, str(probe)) is not None


def course_sections(client: CanvasClient, course: str) -> list[Section]:
    """Every active section of ``course`` as it is now (cross-listed ones in their new course).

    :calls: GET /api/v1/courses/:course_id/sections
    """
    path = f"/api/v1/courses/{segment(course)}/sections"
    return [Section.from_json(item) for item in client._list(path)]


def find_section(client: CanvasClient, ref: str) -> Section | None:
    """The section ``ref`` wherever it is now, or None when Canvas has no such (active) section.

    :calls: GET /api/v1/sections/:id
    """
    try:
        return Section.from_json(client._get(f"/api/v1/sections/{segment(ref)}"))
    except NotFound:
        return None


def sections_of(client: CanvasClient, courses: Iterable[str]) -> dict[str, list[Section]]:
    """:func:`course_sections` of several courses, concurrently."""
    return _concurrently(client, lambda course: course_sections(client, course), list(dict.fromkeys(courses)))


def find_sections(client: CanvasClient, refs: Iterable[str]) -> dict[str, Section | None]:
    """:func:`find_section` of several refs, concurrently."""
    return _concurrently(client, lambda ref: find_section(client, ref), list(dict.fromkeys(refs)))


def _user_id(client: CanvasClient, ref: str) -> int | None:
    try:
        data = client._get(f"/api/v1/users/{segment(ref)}")
    except NotFound:
        return None
    return int(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None


def _concurrently(client: CanvasClient, work: Any, items: Sequence[Any]) -> dict[Any, Any]:
    if len(items) <= 1:
        return {item: work(item) for item in items}
    with ThreadPoolExecutor(max_workers=min(client.concurrency, len(items))) as pool:
        return dict(zip(items, pool.map(work, items), strict=True))
