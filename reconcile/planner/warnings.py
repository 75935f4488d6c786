"""Collecting plan warnings without drowning the reader (or the plan file) in them. Pure."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from reconcile.plan import PlanWarning

MAX_PER_CODE = 50  # individual warnings kept per code; the rest are counted in one line

MESSAGES: dict[str, str] = {
    "cannot_demote": "{user} is active in {course}; Canvas cannot turn an enrollment that is active by date "
    "back into invited (a POST never changes its state), so it stays active",
    "active_only_in_future": "{user} in {course} is active but starts only on {start}: Canvas treats it as "
    "pending until then",
    "active_but_ended": "{user} in {course} is active but its end date {end} has passed: Canvas treats "
    "it as concluded (dates are not managed by the roster, so they are left alone)",
    "not_managed": "{user} in {course} ({role}) differs from the roster but is outside manage scope "
    "(manage.ownership or manage.roles), so it is left unchanged",
}


class WarningSink:
    """Accumulates warnings; :meth:`collected` returns them in a stable order."""

    def __init__(self) -> None:
        self._items: list[PlanWarning] = []
        self._overflow: Counter[str] = Counter()
        self._per_code: Counter[str] = Counter()

    def add(
        self,
        code: str,
        message: str,
        *,
        course: str | None = None,
        user: str | None = None,
        origin: tuple[str, ...] = (),
    ) -> None:
        if self._per_code[code] >= MAX_PER_CODE:
            self._overflow[code] += 1
            return
        self._per_code[code] += 1
        self._items.append(PlanWarning(code=code, message=message, course=course, user=user, origin=origin))

    def rows(self, desired: pd.DataFrame, mask: np.ndarray, code: str, template: str) -> None:
        """One warning per masked desired row; ``template`` may use the row's columns."""
        for row in desired[mask].head(MAX_PER_CODE + 1).to_dict("records"):
            self.add(
                code,
                template.format(**{k: _text(v) for k, v in row.items()}),
                course=_text(row["course"]),
                user=_text(row["user"]),
                origin=_origin(row),
            )
        extra = int(mask.sum()) - min(int(mask.sum()), MAX_PER_CODE + 1)
        self._overflow[code] += extra

    def pairs(
        self,
        desired: pd.DataFrame,
        current: pd.DataFrame,
        pair_d: np.ndarray,
        pair_c: np.ndarray,
        mask: np.ndarray,
        code: str,
        *,
        spans: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """One warning per masked (desired, current) pair, worded by :data:`MESSAGES`. ``spans``:
        the (start, end) microseconds that govern each current row, when they are not the row's own
        dates (term, course or section dates, facts §7.4)."""
        picked = np.flatnonzero(mask)
        for pos in picked[: MAX_PER_CODE + 1].tolist():
            d, c = int(pair_d[pos]), int(pair_c[pos])
            drow = desired.iloc[d].to_dict() if d >= 0 else {}
            crow = current.iloc[c].to_dict()
            course = _text(drow.get("course")) or _text(crow["course_ref"])
            user = _text(drow.get("user")) or _text(crow["sis_user_id"]) or _text(crow["user_id"])
            role = _text(drow.get("role")) or _text(crow["role"])
            start, end = _text(crow["start_at"]), _text(crow["end_at"])
            if spans is not None:
                start, end = _micros_text(spans[0][c]), _micros_text(spans[1][c])
            message = MESSAGES[code].format(user=user, course=course, role=role, start=start, end=end)
            self.add(code, message, course=course, user=user, origin=_origin(drow) if drow else ())
        self._overflow[code] += max(0, len(picked) - (MAX_PER_CODE + 1))

    def collected(self) -> tuple[PlanWarning, ...]:
        items = sorted(self._items, key=lambda w: (w.code, w.course or "", w.user or "", w.origin, w.message))
        for code, count in sorted(self._overflow.items()):
            if count:
                items.append(
                    PlanWarning(code=code, message=f"... and {count} more {code} warnings like the above")
                )
        return tuple(items)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _micros_text(value: Any) -> str | None:
    if value == np.iinfo("int64").min:
        return None
    return pd.Timestamp(int(value), unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _origin(row: dict[str, Any]) -> tuple[str, ...]:
    file, line = _text(row.get("origin_file")), _text(row.get("origin_row"))
    if file is None and line is None:
        return ()
    return (f"{file or '?'}:{line or '?'}",)
