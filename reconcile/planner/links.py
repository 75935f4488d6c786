"""Links between planned operations, and their ids. Pure.

- Observers depend on their observee's arrival (enroll/restore/reactivate in the same
  course); an observee whose Canvas id is not known yet is referenced by a placeholder
  that apply fills from the enroll's response (see :mod:`reconcile.plan`).
- An arrival and a drop of the same user in the same course form one *move* (new section,
  or new role): both carry a move_id and the drop depends on the arrival (DESIGN §5).
- Ids are hashes of each operation's content, assigned in dependency order so an id also
  covers the ids it depends on.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any, TypeVar

from reconcile.plan import Action, Operation, Request, Target
from reconcile.planner.calls import derive_request
from reconcile.planner.warnings import WarningSink

TASKS = ("inactivate", "conclude", "delete")
ARRIVALS = ("enroll", "restore", "reactivate")
ACTION_ORDER = {a.value: i for i, a in enumerate(Action)}
ACTIONS = {a.value: a for a in Action}  # Action(value) is a slow call in a 100k-op loop

_T = TypeVar("_T")


def frozen(cls: type[_T], **fields: Any) -> _T:
    """An instance of frozen dataclass ``cls`` with every field given, without the per-field
    ``object.__setattr__`` of the generated ``__init__`` (a third of the cost at 100k objects).
    Only for dataclasses without ``__post_init__`` or slots, given all their fields."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def link_observers(drafts: list[dict[str, Any]], sink: WarningSink) -> list[dict[str, Any]]:
    """Observers depend on their observee's arrival; unknown observee ids become placeholders."""
    if not any(draft["observer"] for draft in drafts):
        return drafts
    by_uid: dict[tuple[str, int], int] = {}
    by_ref: dict[tuple[str, str], int] = {}
    for i, draft in sorted(
        enumerate(drafts), key=lambda x: (x[1]["target"].role != "StudentEnrollment", x[0])
    ):
        if draft["action"] in ARRIVALS and not draft["observer"]:
            course = draft["target"].course
            if draft["uid"] >= 0:
                by_uid.setdefault((course, draft["uid"]), i)
            by_ref.setdefault((course, draft["target"].user), i)
    kept: list[dict[str, Any]] = []
    remap: dict[int, int] = {}
    for i, draft in enumerate(drafts):
        if draft["observer"] and draft["action"] in (*ARRIVALS, "update"):
            course = draft["target"].course
            assoc = draft["assoc_id"]
            source = by_uid.get((course, assoc)) if assoc is not None else None
            if source is None:
                source = by_ref.get((course, str(draft["target"].associated_user)))
            if assoc is None:  # observee's Canvas id unknown: only a new enrollment can give it
                if source is None or drafts[source]["action"] != "enroll":
                    sink.add(
                        "observee_missing",
                        f"observer {draft['target'].user} in {course}: observee {draft['target'].associated_user} "
                        "is neither enrolled in the course nor being enrolled by this plan; row skipped",
                        course=course,
                        user=draft["target"].user,
                        origin=draft["origin"],
                    )
                    continue
                draft["placeholder"] = source
            if source is not None:
                draft["deps"].append(source)
        remap[i] = len(kept)
        kept.append(draft)
    for draft in kept:
        draft["deps"] = [remap[s] for s in draft["deps"] if s in remap]
        if draft["placeholder"] is not None:
            draft["placeholder"] = remap.get(draft["placeholder"])
    return kept


def group_moves(drafts: list[dict[str, Any]]) -> None:
    """Pair an arrival with a drop of the same user in the same course: one move (DESIGN §5)."""
    arrivals: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    departures: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, draft in enumerate(drafts):
        if draft["reason"] == "absent_from_roster" and draft["uid"] >= 0:
            departures[(draft["target"].course, draft["uid"])].append(i)
    if not departures:
        return
    for i, draft in enumerate(drafts):
        if draft["action"] in ARRIVALS and draft["from_roster"] and draft["uid"] >= 0:
            key = (draft["target"].course, draft["uid"])
            if key in departures:
                arrivals[key].append(i)
    for key in sorted(set(arrivals) & set(departures), key=str):
        free_in = sorted(arrivals[key], key=lambda i: _sort_key(drafts[i]))
        free_out = sorted(departures[key], key=lambda i: _sort_key(drafts[i]))
        for same_role in (True, False):
            for a in list(free_in):
                for b in list(free_out):
                    ta, tb = drafts[a]["target"], drafts[b]["target"]
                    if (ta.role == tb.role) != same_role or (same_role and ta.section == tb.section):
                        continue
                    if same_role and drafts[a]["assoc_id"] != drafts[b]["assoc_id"]:
                        continue
                    reason = "moved_section" if same_role else "role_changed"
                    for half in (a, b):
                        drafts[half]["reason"] = reason
                    drafts[a]["move"] = b
                    drafts[b]["move"] = a
                    drafts[b]["deps"].append(a)
                    free_in.remove(a)
                    free_out.remove(b)
                    break


def _sort_key(draft: dict[str, Any]) -> tuple[Any, ...]:
    t = draft["target"]
    return (t.course, t.section or "", t.user, t.role, t.associated_user or "", ACTION_ORDER[draft["action"]])


def content_text(
    *,
    action: str,
    target: Target,
    request: Request,
    reason: str,
    before: dict[str, Any] | None,
    depends_on: tuple[str, ...],
    move_id: str | None,
    origin: tuple[str, ...],
) -> str:
    """Canonical text of what identifies an operation: its fields joined with separator
    characters that refs and values do not contain (a placeholder parameter goes through
    ``repr``). ``after`` and ``detail`` follow from the request and reason; ``before`` is
    represented by the row's id and state, which the stale check guards anyway."""
    t = target
    return "\x1f".join(
        (
            action,
            t.course,
            t.section or "",
            t.user,
            t.role,
            t.associated_user or "",
            request.method,
            request.path,
            _params_text(request.params),
            reason,
            f"{before['id']}:{before['state']}" if before else "",
            ",".join(depends_on),
            move_id or "",
            ";".join(origin),
        )
    )


def _content(draft: dict[str, Any], *, move_id: str | None, deps: tuple[str, ...], request: Request) -> str:
    return content_text(
        action=draft["action"],
        target=draft["target"],
        request=request,
        reason=draft["reason"],
        before=draft["before"],
        depends_on=deps,
        move_id=move_id,
        origin=draft["origin"],
    )


def _params_text(params: dict[str, Any]) -> str:
    try:  # the common case, every value a string: joined in C
        return "\x1e".join(map("=".join, params.items()))
    except TypeError:  # a placeholder (a dict) is written through repr
        return "\x1e".join([f"{k}={v if isinstance(v, str) else repr(v)}" for k, v in params.items()])


def digest(text: str) -> str:
    """The 16-hex-digit content hash operation ids are made of."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def operation_id(op: Operation) -> str:
    """The id ``op``'s content gives (what the planner assigned, unless the plan was edited)."""
    return digest(
        content_text(
            action=op.action.value,
            target=op.target,
            request=op.request,
            reason=op.reason,
            before=op.before,
            depends_on=op.depends_on,
            move_id=op.move_id,
            origin=op.origin,
        )
    )


def move_id_of(arrival: Operation, drop: Operation) -> str:
    """The move id of an arrival and the drop it pairs with: their content without ids,
    dependencies or placeholders (which :func:`finalise` only knows later)."""
    base = ""
    for op in (arrival, drop):
        base += content_text(
            action=op.action.value,
            target=op.target,
            request=derive_request(op.action.value, op.target, op.before, op.after),
            reason=op.reason,
            before=op.before,
            depends_on=(),
            move_id=None,
            origin=op.origin,
        )
    return "m" + digest(base)[:15]


def finalise(drafts: list[dict[str, Any]]) -> tuple[Operation, ...]:
    """Assign content-hash ids in dependency order (an id covers the ids it depends on)."""
    move_ids: dict[int, str] = {}
    for i, draft in enumerate(drafts):
        j = draft["move"]
        if j is None or i in move_ids:
            continue
        a, b = (i, j) if draft["action"] in ARRIVALS else (j, i)
        base = _content(drafts[a], move_id=None, deps=(), request=drafts[a]["request"])
        base += _content(drafts[b], move_id=None, deps=(), request=drafts[b]["request"])
        move_ids[i] = move_ids[j] = "m" + digest(base)[:15]
    ids: dict[int, str] = {}
    ops: dict[int, Operation] = {}
    pending = list(range(len(drafts)))
    while pending:
        waiting = []
        for i in pending:
            draft = drafts[i]
            if draft["deps"] or draft["placeholder"] is not None:
                needs = [
                    *draft["deps"],
                    *([draft["placeholder"]] if draft["placeholder"] is not None else []),
                ]
                if any(n not in ids for n in needs):
                    waiting.append(i)
                    continue
            request = draft["request"]
            if draft["placeholder"] is not None:  # the same derivation, now that the source has an id
                request = derive_request(
                    draft["action"],
                    draft["target"],
                    draft["before"],
                    draft["after"],
                    observee_from=ids[draft["placeholder"]],
                )
            deps = tuple(sorted({ids[n] for n in draft["deps"]})) if draft["deps"] else ()
            move_id = move_ids.get(i)
            op_id = digest(_content(draft, move_id=move_id, deps=deps, request=request))
            ids[i] = op_id
            ops[i] = frozen(
                Operation,
                id=op_id,
                action=ACTIONS[draft["action"]],
                target=draft["target"],
                request=request,
                reason=draft["reason"],
                before=draft["before"],
                after=draft["after"],
                depends_on=deps,
                move_id=move_id,
                origin=draft["origin"],
                detail=draft["detail"],
            )
        if len(waiting) == len(pending):  # links only point at arrivals, so this means a bug
            raise RuntimeError("cyclic dependencies between planned operations")
        pending = waiting
    keys = [(_sort_key(draft), ids[i]) for i, draft in enumerate(drafts)]
    return tuple(ops[i] for i in sorted(range(len(drafts)), key=keys.__getitem__))
