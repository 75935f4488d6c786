"""Apply benchmark: 10,000 operations against the simulator in its own process, 50 ms latency.

The institution is generated (``reconcile.sim.generate``) and its roster changed in every
way the planner knows (enrolls, restores, reactivates, moves, observers of new students,
drops; the generator lives beside the apply tests). The plan is trimmed to exactly
10,000 operations, keeping every dependency inside the selection.

Runs, each on a freshly reset simulator with a fresh journal:

1. throttle off, ``--parallelism 8``: wall time of the operations against the bound
   operations × latency ÷ 8 (the lock, stale-check fetch and journal set-up are shown
   separately);
2. throttle on, default settings (parallelism 8, adaptive limiter): the same 10,000;
3. throttle on, a sweep of fixed parallelism (client limiter not adaptive) on the first
   2,000 operations, to find the best fixed setting to compare with.

A request costs 0.05 units (50 ms of work, as Canvas charges CPU plus database seconds)
and a list page 0.001 more per item; Canvas's bucket otherwise keeps its defaults (hwm
600, outflow 10/s, 50 up front per request in flight), so about 200 requests/s can be
sustained and 12 requests in flight fill the bucket on their own. The same costs are
counted (and reported in headers) with the throttle off, as Canvas does when
``request_throttle.enabled`` is off.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from reconcile.apply import apply_plan
from reconcile.canvas import CanvasClient
from reconcile.plan import Plan
from reconcile.sim.generate import ADMIN_TOKEN, generate
from reconcile.sim.process import simulator_process

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "apply"))
from apply_world import config_for, plan_live, synthetic_roster, write_config, write_roster  # noqa: E402

OPERATIONS = 10_000
LATENCY_MS = 50.0
PARALLELISM = 8
SWEEP = (8, 10, 12)
SWEEP_OPERATIONS = 2_000
THROTTLED_COST = 0.05
ITEM_COST = 0.001


def _knobs(url: str, **knobs: Any) -> None:
    requests.put(f"{url}/__sim/faults", data=json.dumps(knobs), timeout=30).raise_for_status()


def _reset(url: str) -> None:
    requests.post(f"{url}/__sim/reset", timeout=60).raise_for_status()


def _trim(plan: Plan, n: int) -> Plan:
    """The first ``n`` operations whose dependencies are all among those kept."""
    kept: list[Any] = []
    ids: set[str] = set()
    for op in plan.operations:
        if len(kept) == n:
            break
        if all(d in ids for d in op.depends_on):
            kept.append(op)
            ids.add(op.id)
    return dataclasses.replace(plan, operations=tuple(kept))


def _apply(
    url: str,
    plan: Plan,
    config: Any,
    state: Path,
    *,
    parallelism: int,
    adaptive: bool = True,
    pacing: bool = True,
) -> dict[str, Any]:
    marks: dict[str, float] = {}
    with CanvasClient(
        url, ADMIN_TOKEN, concurrency=parallelism, adaptive=adaptive, pacing=pacing, retries=8
    ) as client:
        began = time.perf_counter()
        result = apply_plan(
            plan,
            client=client,
            config=config,
            state_dir=state,
            parallelism=parallelism,
            on_start=lambda p, n: marks.update(start=marks.get("start", time.perf_counter())),
        )
        ended = time.perf_counter()
        mean_in_flight = client.limiter.snapshot().mean_in_flight
    stats = result.client_stats
    execute = ended - marks["start"]
    return {
        "ops": len(plan.operations),
        "total": ended - began,
        "setup": marks["start"] - began,
        "execute": execute,
        "requests": stats.get("requests", 0),
        "pages": stats.get("pages", 0),
        "retries": stats.get("retries", 0),
        "throttled": stats.get("throttled", 0),
        "cost": stats.get("request_cost", 0.0),
        "mean_in_flight": mean_in_flight,
        "failed": len(result.failures) + len(result.skipped),
        "exit": result.exit_code,
        "rate": len(plan.operations) / execute,
    }


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = generate(courses=960, students_per_course=40, sections_per_course=2, random_seed=7)
        seed_path = tmp / "seed.json"
        seed_path.write_text(json.dumps(seed))
        roster = write_roster(synthetic_roster(seed, random_seed=7), tmp / "enrollments.csv")
        with simulator_process(seed_path, "--throttle", "off") as server:
            url = server.url
            config = config_for(write_config(tmp / "reconcile.yaml", url=url, state_dir=tmp / "state"), url)

            def fresh_plan(n: int) -> Plan:
                _reset(url)
                _knobs(url, latency_ms=0, throttle=False)
                with CanvasClient(url, ADMIN_TOKEN) as client:
                    plan = _trim(plan_live([roster], config=config, client=client), n)
                # Planning only reads; reset again so the run starts with an empty bucket and zero stats.
                _reset(url)
                return plan

            plan = fresh_plan(OPERATIONS)
            actions: dict[str, int] = {}
            for op in plan.operations:
                actions[op.action.value] = actions.get(op.action.value, 0) + 1
            dependants = sum(1 for op in plan.operations if op.depends_on)

            _knobs(url, latency_ms=LATENCY_MS, request_cost=THROTTLED_COST, item_cost=ITEM_COST)
            plain = _apply(url, plan, config, tmp / "s1", parallelism=PARALLELISM)

            plan = fresh_plan(OPERATIONS)
            _knobs(
                url, latency_ms=LATENCY_MS, throttle=True, request_cost=THROTTLED_COST, item_cost=ITEM_COST
            )
            throttled = _apply(url, plan, config, tmp / "s2", parallelism=PARALLELISM)

            sweep = []
            for n, p in enumerate(SWEEP):
                small = fresh_plan(SWEEP_OPERATIONS)
                _knobs(
                    url,
                    latency_ms=LATENCY_MS,
                    throttle=True,
                    request_cost=THROTTLED_COST,
                    item_cost=ITEM_COST,
                )
                sweep.append(
                    (p, False, _apply(url, small, config, tmp / f"f{n}", parallelism=p, adaptive=False))
                )
            small = fresh_plan(SWEEP_OPERATIONS)
            _knobs(
                url, latency_ms=LATENCY_MS, throttle=True, request_cost=THROTTLED_COST, item_cost=ITEM_COST
            )
            adaptive16 = _apply(url, small, config, tmp / "a16", parallelism=16)
    return _markdown(plain, throttled, sweep, adaptive16, actions, dependants)


def _markdown(
    plain: dict[str, Any],
    throttled: dict[str, Any],
    sweep: list[tuple[int, bool, dict[str, Any]]],
    adaptive16: dict[str, Any],
    actions: dict[str, int],
    dependants: int,
) -> str:
    bound = plain["ops"] * LATENCY_MS / 1000 / PARALLELISM
    mix = ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))
    clean = [row for row in sweep if row[2]["failed"] == 0]
    best = max(clean or sweep, key=lambda row: row[2]["rate"])
    lines = [
        "## apply",
        "",
        f"`python -m bench.run apply`: {plain['ops']:,} operations ({mix}; {dependants} wait for another",
        f"operation), simulator in its own process with {LATENCY_MS:.0f} ms latency per request, fresh state",
        "and journal per run. *Execute* runs from the first operation to the last answer journaled, and",
        "includes the re-fetch of each course just before the run's first write to it (half the list pages);",
        "*set-up* is the lock, the stale-check fetch of every touched course and the journal's baseline.",
        "",
        "| run | parallelism | execute | bound (ops × latency ÷ 8) | ratio | set-up | requests | retries | throttled | failed |",
        "|---|---|---|---|---|---|---|---|---|---|",
        _row("throttle off", PARALLELISM, plain, bound),
        _row("throttle on", PARALLELISM, throttled, bound),
        "",
        f"Throttle on, fixed parallelism (client limiter not adaptive), first {SWEEP_OPERATIONS:,} operations:",
        "",
        "| parallelism | ops/s | throttled | retries | failed |",
        "|---|---|---|---|---|",
    ]
    for p, _, r in sweep:
        lines.append(f"| {p} fixed | {r['rate']:.0f} | {r['throttled']} | {r['retries']} | {r['failed']} |")
    lines.append(
        f"| 16, adaptive limiter | {adaptive16['rate']:.0f} | {adaptive16['throttled']} | {adaptive16['retries']} | {adaptive16['failed']} |"
    )
    lines += [
        "",
        f"Default apply with the throttle on: **{throttled['rate']:.0f} operations/s**, {throttled['failed']} failed; "
        f"the best fixed parallelism found was {best[0]} at {best[2]['rate']:.0f} operations/s.",
    ]
    return "\n".join(lines)


def _row(name: str, parallelism: int, r: dict[str, Any], bound: float) -> str:
    return (
        f"| {name} | {parallelism} | {r['execute']:.1f} s | {bound:.1f} s | {r['execute'] / bound:.2f} | "
        f"{r['setup']:.1f} s | {r['requests']:,} ({r['pages']:,} list pages) | {r['retries']} | {r['throttled']} | {r['failed']} |"
    )


if __name__ == "__main__":
    print(run())
