"""Run a plan's operations against Canvas: ordered, bounded-parallel, journaled, resumable.

The executor talks to Canvas only through a :class:`Sender` (the Canvas client in real
use), so it can be tested with a fake. Every operation is journaled ``started`` before
its request and ``done``/``failed``/``skipped`` after; on a later run of the same plan,
done operations are not sent again and started ones are re-checked.

Effects that already hold are successes, not failures: a DELETE answering 404 on a
deleted row, a reactivate answering 400 on an active row, an interrupted drop whose
target is already in the wanted state. Each such case is confirmed with a GET of the
enrollment before it is recorded as done.

A run stops early (in-flight requests still land in the journal) when the token is
refused, when it is interrupted, or when operation after operation fails even after the
client's retries: Canvas is then down or unreachable, and a later run resumes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from reconcile.apply import journal as jr
from reconcile.apply.schedule import MissingValue, Schedule, schedule, substitute
from reconcile.canvas.errors import BadRequest, CanvasError, NotFound, Unauthorized
from reconcile.plan import Action, Operation, Plan, Request
from reconcile.render.common import describe

# Enrollment state each action leaves behind, where it is fixed by the action itself.
EXPECTED_STATE: dict[Action, str] = {
    Action.DELETE: "deleted",
    Action.CONCLUDE: "completed",
    Action.INACTIVATE: "inactive",
    Action.REACTIVATE: "active",
}

APPLIED = "applied"  # the request was sent and succeeded
HELD = "already_held"  # Canvas said no, but a GET showed the effect already holds
RESUMED = "done_earlier"  # journaled done by an earlier run of the same plan
VERIFIED = "verified"  # started by an interrupted run; a GET showed it took effect


class Sender(Protocol):
    """What the executor needs from the Canvas client."""

    def send(self, request: Request) -> Any:
        """Make ``request``; return the decoded JSON; raise a CanvasError subclass on failure."""
        ...


class CanvasUnreachable(Exception):
    """Operation after operation failed even after the client's retries."""


class Aborted(Exception):
    """The run stopped early (bad token, or interrupted); the journal says how far it got."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Outcome:
    """What happened to one operation in this run."""

    operation: Operation
    status: str  # done | failed | skipped | held
    how: str = APPLIED  # for done: applied | already_held | done_earlier | verified
    error: str | None = None
    enrollment_id: int | None = None


ProgressCallback = Callable[[Outcome], None]


def describe_error(exc: CanvasError) -> str:
    """One line for the journal and the summary: status and Canvas's own message."""
    status = f"{exc.status} " if exc.status is not None else ""
    message = exc.canvas_message or exc.summary
    return f"{status}{type(exc).__name__}: {message}".strip()


class Executor:
    """Executes one plan for one run. Create, then call :meth:`run` once."""

    def __init__(
        self,
        plan: Plan,
        *,
        sender: Sender,
        journal: jr.Journal,
        run_id: str,
        parallelism: int = 8,
        account: str = "self",
        on_progress: ProgressCallback | None = None,
        unreachable_after: int | None = None,
        hold: frozenset[str] = frozenset(),
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.plan = plan
        self.sender = sender
        self.journal = journal
        self.run_id = run_id
        self.parallelism = parallelism
        self.account = account
        self.on_progress = on_progress
        self.hold = hold  # operation ids journaled as held instead of sent (--hold-drops)
        self.schedule: Schedule = schedule(plan.operations)
        self._responses: dict[str, Mapping[str, Any]] = {}
        self._records: dict[str, jr.OperationRecord] = {}
        self._stop = threading.Event()
        self._abort: BaseException | None = None
        self._streak = 0  # transient failures in a row, across workers
        self._streak_lock = threading.Lock()
        self.unreachable_after = unreachable_after or max(20, 3 * parallelism)

    # -- the run loop -----------------------------------------------------------------

    def run(self) -> list[Outcome]:
        """Execute every operation once (or recognise it as done); return outcomes in finishing order.

        Raises :class:`Aborted` after in-flight requests finished when the token is
        refused or the run is interrupted; the outcomes so far are in ``self.outcomes``.
        """
        plan_id = self.plan.plan_id
        self.journal.register_operations(
            plan_id,
            (
                {
                    "op_id": op.id,
                    "seq": n,
                    "action": op.action.value,
                    "course": op.target.course,
                    "section": op.target.section,
                    "user": op.target.user,
                    "role": op.target.role,
                    "change": describe(op),
                }
                for n, op in enumerate(self.plan.operations)
            ),
        )
        self._records = self.journal.operations(plan_id)
        for op_id, record in self._records.items():
            if record.status == jr.DONE and record.response:
                self._responses[op_id] = record.response
        self.outcomes: list[Outcome] = []
        final: dict[str, str] = {}
        pool = ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply")
        try:
            for phase in self.schedule.phases:
                if self._stop.is_set():
                    break
                self._run_phase(phase, final, pool)
        except KeyboardInterrupt as exc:
            self._stop.set()
            self._abort = self._abort or exc
        finally:
            # In-flight requests are allowed to finish so their answers reach the journal.
            pool.shutdown(wait=True, cancel_futures=True)
        if self._abort is not None:
            reason = (
                "interrupted" if isinstance(self._abort, KeyboardInterrupt) else f"stopped: {self._abort}"
            )
            raise Aborted(reason, cause=self._abort)
        return self.outcomes

    def _run_phase(
        self, phase: tuple[Operation, ...], final: dict[str, str], pool: ThreadPoolExecutor
    ) -> None:
        ids = {op.id for op in phase}
        waiting: dict[str, int] = {}
        dependants: dict[str, list[Operation]] = {}
        ready: deque[Operation] = deque()
        for op in phase:
            unmet = [d for d in self.schedule.depends[op.id] if d in ids and d not in final]
            waiting[op.id] = len(unmet)
            for dep in unmet:
                dependants.setdefault(dep, []).append(op)
            if not unmet:
                ready.append(op)
        in_flight: dict[Future[Outcome], Operation] = {}

        def settle(outcome: Outcome) -> None:
            op = outcome.operation
            final[op.id] = outcome.status
            self.outcomes.append(outcome)
            if self.on_progress is not None:
                self.on_progress(outcome)
            for dependant in dependants.pop(op.id, ()):
                waiting[dependant.id] -= 1
                if waiting[dependant.id] == 0:
                    ready.append(dependant)

        while (ready or in_flight) and not self._stop.is_set():
            while ready and len(in_flight) < self.parallelism and not self._stop.is_set():
                op = ready.popleft()
                blocked = self._blocked_by(op, final)
                if blocked is not None:
                    settle(self._skip(op, blocked))
                    continue
                record = self._records.get(op.id)
                if record is not None and record.status == jr.DONE:
                    settle(Outcome(op, jr.DONE, how=RESUMED, enrollment_id=record.enrollment_id))
                    continue
                if op.id in self.hold:
                    settle(self._hold(op))
                    continue
                in_flight[pool.submit(self._perform, op)] = op
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                in_flight.pop(future)
                settle(future.result())
        while in_flight:  # stopping: let started requests land in the journal
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                in_flight.pop(future)
                settle(future.result())
        if not self._stop.is_set():
            for op in phase:  # never became ready: a dependency cycle
                if op.id not in final:
                    settle(self._skip(op, "dependency cycle between operations"))

    def _blocked_by(self, op: Operation, final: Mapping[str, str]) -> str | None:
        unknown = self.schedule.unknown.get(op.id)
        if unknown:
            return f"depends on operations not in the plan: {', '.join(sorted(unknown))}"
        failed = sorted(d for d in self.schedule.depends[op.id] if final.get(d) != jr.DONE)
        if failed:
            return f"dependency not done: {', '.join(failed)}"
        return None

    def _hold(self, op: Operation) -> Outcome:
        reason = "held: the plan's guards tripped (apply it again with --allow-drops to run it)"
        self.journal.mark_finished(self.plan.plan_id, op.id, run_id=self.run_id, status=jr.HELD, error=reason)
        return Outcome(op, jr.HELD, error=reason)

    def _skip(self, op: Operation, reason: str) -> Outcome:
        self.journal.mark_finished(
            self.plan.plan_id, op.id, run_id=self.run_id, status=jr.SKIPPED, error=reason
        )
        return Outcome(op, jr.SKIPPED, error=reason)

    # -- one operation ------------------------------------------------------------------

    def _perform(self, op: Operation) -> Outcome:
        try:
            outcome = self._perform_unguarded(op)
        except Unauthorized as exc:
            # A refused token fails every later request too: stop instead of failing them all.
            self._stop_run(exc)
            return self._fail(op, describe_error(exc))
        except CanvasError as exc:
            if exc.transient:
                self._count_unreachable(exc)
            return self._fail(op, describe_error(exc))
        except Exception as exc:  # a bug or an unexpected answer must not kill the other workers
            return self._fail(op, f"{type(exc).__name__}: {exc}")
        with self._streak_lock:
            self._streak = 0
        return outcome

    def _count_unreachable(self, exc: CanvasError) -> None:
        # Each transient failure has already used up the client's retries. Many in a row,
        # with no success between, mean Canvas is down or unreachable: going on would only
        # spend the retries of every remaining operation. Stop; a later run resumes.
        with self._streak_lock:
            self._streak += 1
            streak = self._streak
        if streak >= self.unreachable_after:
            self._stop_run(
                CanvasUnreachable(f"{streak} operations in a row failed after retries; last: {exc}")
            )

    def _stop_run(self, exc: BaseException) -> None:
        if self._abort is None:
            self._abort = exc
        self._stop.set()

    def _perform_unguarded(self, op: Operation) -> Outcome:
        plan_id = self.plan.plan_id
        record = self._records.get(op.id)
        if record is not None and record.status in (jr.STARTED, jr.FAILED):
            # An earlier run sent this and died before the answer was journaled, or gave
            # up on it after a lost answer: it may have taken effect all the same.
            current = self._effect_holds(op, record)
            if current is not None:
                return self._done(op, current, how=VERIFIED, note="took effect in an earlier run")
        try:
            request = substitute(op.request, self._responses)
        except MissingValue as exc:
            return self._fail(op, f"cannot fill in the request: {exc}")
        self.journal.mark_started(plan_id, op.id, run_id=self.run_id)
        try:
            response = self.sender.send(request)
        except (NotFound, BadRequest) as exc:
            current = self._effect_holds(op, record)
            if current is not None:
                return self._done(op, current, how=HELD, note=f"Canvas answered {describe_error(exc)}")
            raise
        return self._done(op, response, how=APPLIED)

    def _effect_holds(self, op: Operation, record: jr.OperationRecord | None) -> Mapping[str, Any] | None:
        """The enrollment's JSON if a GET shows ``op``'s effect in place, else None.

        Only actions whose result is a fixed state are checked this way; POST upserts
        are simply sent again, which Canvas treats as a no-op when nothing differs.
        """
        expected = EXPECTED_STATE.get(op.action)
        enrollment_id = _enrollment_id(op, record)
        if expected is None or enrollment_id is None:
            return None
        path = f"/api/v1/accounts/{self.account}/enrollments/{enrollment_id}"
        try:
            current = self.sender.send(Request("GET", path))
        except NotFound:
            return None
        if isinstance(current, Mapping) and current.get("enrollment_state") == expected:
            return current
        return None

    def _done(self, op: Operation, response: Any, *, how: str, note: str | None = None) -> Outcome:
        fields = jr.scalar_fields(response)
        if fields is not None:
            self._responses[op.id] = fields
        self.journal.mark_finished(
            self.plan.plan_id, op.id, run_id=self.run_id, status=jr.DONE, response=response, note=note
        )
        enrollment_id = fields.get("id") if fields else None
        return Outcome(
            op, jr.DONE, how=how, enrollment_id=enrollment_id if isinstance(enrollment_id, int) else None
        )

    def _fail(self, op: Operation, error: str) -> Outcome:
        self.journal.mark_finished(
            self.plan.plan_id, op.id, run_id=self.run_id, status=jr.FAILED, error=error
        )
        return Outcome(op, jr.FAILED, error=error)


def _enrollment_id(op: Operation, record: jr.OperationRecord | None) -> int | None:
    if record is not None and record.enrollment_id is not None:
        return record.enrollment_id
    before_id = (op.before or {}).get("id")
    try:
        return int(before_id) if before_id is not None else None
    except (TypeError, ValueError):
        return None
