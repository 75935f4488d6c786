"""Apply's side of ownership (DESIGN §4 ``claimed``, §7 "Drift and undo").

- :func:`load_claims`: the claim set (:mod:`reconcile.apply.claims`) as planner input, with
  what the tool last left in each claimed enrollment when ``policy.drift`` needs it.
- :func:`claims_changed`: whether a ``claimed`` plan's claim set changed since it was made
  (apply then treats the plan as stale, exit 4). Claims first made by runs of the same plan
  do not count, so a resumed apply is not refused for its own claims.
- :func:`before_run` / :func:`after_run`: what apply records around a run. Before: the plan
  itself (undo reads the operations' ``before`` from it). After: the enrollments the run
  created (from Canvas's answers to the POSTs) and those its roster rows matched
  (``plan.claims.new``) become claimed; what the tool saw of matched enrollments it did not
  write is recorded as what it left there; and each course read gets its ``created_at``
  watermark, so drift can tell an enrollment added by hand since.
- :func:`claim_rows`: ``reconcile claim``'s write, the same recording without a run.

Only this module, :mod:`reconcile.apply.claims` and :mod:`reconcile.apply.ledger` touch the
claim set and the ledger tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reconcile.apply import journal as jr
from reconcile.apply.claims import Claim, ClaimSet
from reconcile.apply.ledger import Ledger
from reconcile.plan import Action, Plan
from reconcile.planner.keys import current_section_ref, current_user_ref, iso_series
from reconcile.planner.ownership import Claims, claims_digest


def load_claims(
    state_dir: str | Path, *, canvas_url: str | None, account: str, drift: str = "revert"
) -> Claims:
    """The claim set of that Canvas as planner input; raises ClaimsError for a bad file.
    With ``drift`` other than revert, each claimed enrollment's last-left state is read
    from the journal (when there is one)."""
    claim_set = ClaimSet.load(state_dir, canvas_url=canvas_url, account=account)
    ids = claim_set.ids()
    left: dict[int, str] = {}
    if drift != "revert" and len(ids) and (Path(state_dir) / jr.JOURNAL_FILE).exists():
        with Ledger.in_state_dir(state_dir) as ledger:
            left = {eid: rec.state for eid, rec in ledger.last_left(ids.tolist()).items() if rec.state}
    return Claims.of(ids, left=left)


def is_claimed_plan(plan: Plan) -> bool:
    """A plan made with ``manage.ownership: claimed`` and a claim set."""
    scope = plan.policy.get("scope") if isinstance(plan.policy, Mapping) else None
    return plan.claims is not None and isinstance(scope, Mapping) and scope.get("ownership") == "claimed"


def claims_changed(plan: Plan, *, state_dir: str | Path, canvas_url: str | None, account: str) -> bool:
    """True when ``plan`` is a claimed plan and the claim set is no longer the one it used."""
    if not is_claimed_plan(plan):
        return False
    assert plan.claims is not None
    claim_set = ClaimSet.load(state_dir, canvas_url=canvas_url, account=account)
    return claims_digest(claim_set.ids_without(plan_id=plan.plan_id)) != plan.claims.get("digest")


def before_run(plan: Plan, journal: jr.Journal) -> None:
    """Store the plan a run is about to execute, for undo."""
    with Ledger(journal) as ledger:
        ledger.remember_plan(plan)


def after_run(
    plan: Plan,
    *,
    journal: jr.Journal,
    state_dir: str | Path,
    canvas_url: str | None,
    account: str,
    run_id: str,
    fetched: pd.DataFrame | None,
    fetched_courses: Sequence[str],
    client: Any,
    finished: bool,
) -> int:
    """Claim what the run created and (when it ``finished``, i.e. was not stopped early) what
    its roster rows matched; returns how many claims are new. ``fetched`` is what apply read of
    ``fetched_courses`` before its first write; matched enrollments elsewhere are read now
    with ``client.fetch_current``. A failing read only postpones those claims: they stay
    "new" in the next plan."""
    claim_set = ClaimSet.load(state_dir, canvas_url=canvas_url, account=account)
    now = jr.utc_now()
    records = journal.operations(plan.plan_id)
    written: set[int] = set()
    created: list[Claim] = []
    for op in plan.operations:
        record = records.get(op.id)
        if record is None or record.status != jr.DONE or record.enrollment_id is None:
            continue
        written.add(int(record.enrollment_id))
        answer = record.response or {}
        if op.action is Action.ENROLL:
            created.append(
                Claim(
                    enrollment_id=int(record.enrollment_id),
                    course=op.target.course,
                    role=op.target.role,
                    user=op.target.user,
                    section=op.target.section or _text(answer.get("course_section_id")),
                    course_id=_int(answer.get("course_id")),
                    section_id=_int(answer.get("course_section_id")),
                    user_id=_int(answer.get("user_id")),
                    claimed_at=now,
                    run_id=run_id,
                    plan_id=plan.plan_id,
                    how="created",
                )
            )
    added = claim_set.add(created)
    frames = [fetched] if fetched is not None else []
    seen = set(fetched_courses) if fetched is not None else set()
    new = (plan.claims or {}).get("new") or {}
    known = set(claim_set.ids().tolist())
    wanted = {int(i) for ids in new.values() for i in ids} - known if finished else set()
    if wanted:
        have = set(fetched["id"].dropna().astype("int64").tolist()) if fetched is not None else set()
        missing = sorted(
            c for c, ids in new.items() if any(int(i) in wanted and int(i) not in have for i in ids)
        )
        if missing:
            try:
                frames.append(client.fetch_current(missing))
                seen |= set(missing)
            except Exception:  # noqa: BLE001 - any failure to read only postpones these claims
                pass
    current = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)
    with Ledger(journal) as ledger:
        if current is not None and wanted:
            rows = current[current["id"].isin(wanted)]
            added += claim_set.add(
                _claims_of(rows, how="matched", at=now, run_id=run_id, plan_id=plan.plan_id)
            )
            unwritten = rows[~rows["id"].isin(written)]
            ledger.observe(run_id, observations(unwritten), at=now)
        if current is not None and seen:
            ledger.saw_courses(run_id, created_through(current, sorted(seen)), at=now)
    if added:
        claim_set.save()
    return added


def claim_rows(
    rows: pd.DataFrame,
    *,
    journal: jr.Journal,
    claim_set: ClaimSet,
    run_id: str,
    plan_id: str,
    courses: Sequence[str],
    all_rows: pd.DataFrame,
) -> int:
    """``reconcile claim``: claim these current rows (what the roster matched), record what was
    observed of them and the courses read (``all_rows`` of ``courses``); returns the new claims."""
    now = jr.utc_now()
    added = claim_set.add(_claims_of(rows, how="claimed", at=now, run_id=run_id, plan_id=plan_id))
    with Ledger(journal) as ledger:
        ledger.observe(run_id, observations(rows), at=now)
        ledger.saw_courses(run_id, created_through(all_rows, courses), at=now)
    if added:
        claim_set.save()
    return added


def observations(rows: pd.DataFrame) -> list[tuple[int, str, dict[str, Any]]]:
    """``(enrollment id, course ref, Canvas fields)`` of current rows, in the ledger's form."""
    if rows.empty:
        return []
    columns = {
        "id": rows["id"],
        "course_id": rows["course_id"],
        "course_section_id": rows["course_section_id"],
        "user_id": rows["user_id"],
        "type": rows["type"],
        "role": rows["role"],
        "role_id": rows["role_id"],
        "enrollment_state": rows["state"],
        "limit_privileges_to_course_section": rows["limit_privileges_to_course_section"],
        "associated_user_id": rows["associated_user_id"],
    }
    values = {name: column.to_numpy(dtype=object, na_value=None).tolist() for name, column in columns.items()}
    for name in ("start_at", "end_at", "created_at", "updated_at"):
        values[name] = iso_series(rows[name])
    names = list(values)
    courses = rows["course_ref"].to_numpy(dtype=object).tolist()
    out = []
    for course, fields in zip(courses, zip(*(values[n] for n in names), strict=True), strict=True):
        record = dict(zip(names, fields, strict=True))
        out.append((int(record["id"]), str(course), record))
    return out


def created_through(current: pd.DataFrame, courses: Iterable[str]) -> dict[str, str | None]:
    """Per course ref, the newest ``created_at`` among its rows (None: no rows, or none dated)."""
    out: dict[str, str | None] = {str(c): None for c in courses}
    if current.empty:
        return out
    dated = current[current["course_ref"].isin(list(out)) & current["created_at"].notna()]
    if dated.empty:
        return out
    newest = dated.groupby("course_ref")["created_at"].max()
    for course, text in zip(newest.index.tolist(), iso_series(newest), strict=True):
        out[str(course)] = text
    return out


def _claims_of(rows: pd.DataFrame, *, how: str, at: str, run_id: str, plan_id: str) -> list[Claim]:
    if rows.empty:
        return []
    sections = current_section_ref(rows).tolist()
    users = current_user_ref(rows).tolist()

    def ints(name: str) -> list[int | None]:
        return [
            None if v is None else int(v) for v in rows[name].to_numpy(dtype=object, na_value=None).tolist()
        ]

    return [
        Claim(
            enrollment_id=int(eid),
            course=str(course),
            role=str(role),
            user=str(user),
            section=str(section) if section is not None else None,
            course_id=course_id,
            section_id=section_id,
            user_id=user_id,
            claimed_at=at,
            run_id=run_id,
            plan_id=plan_id,
            how=how,
        )
        for eid, course, role, user, section, course_id, section_id, user_id in zip(
            rows["id"].to_numpy(dtype="int64").tolist(),
            rows["course_ref"].tolist(),
            rows["role"].tolist(),
            users,
            sections,
            ints("course_id"),
            ints("course_section_id"),
            ints("user_id"),
            strict=True,
        )
    ]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
