"""Simulator benchmark: seed load time, and list-page throughput under 8 concurrent clients.

The server runs in its own process (``reconcile sim serve``, throttle off) so the client
threads' GIL does not slow it down. Two synthetic institutions of about 100,000
enrollments: 2,000 courses of 50 students (every course fits one ``per_page=100`` page),
and 1,000 courses of 100 students (full 100-item pages plus a short second page). Each
client walks course enrollment lists with every state, following Link headers, for a
fixed number of pages.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from reconcile.sim.generate import ADMIN_TOKEN, generate
from reconcile.sim.process import simulator_process

SCENARIOS = [(2000, 50), (1000, 100)]
CLIENTS = 8
PAGES_PER_CLIENT = 400
STATES = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]


def _client(
    url: str, courses: int, first_course: int, latencies: list[float], items: list[int], errors: list[str]
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    course = first_course
    pages = 0
    next_url: str | None = None
    while pages < PAGES_PER_CLIENT:
        t0 = time.perf_counter()
        if next_url is None:
            response = session.get(
                f"{url}/api/v1/courses/{course}/enrollments",
                params=[("per_page", 100), *(("state[]", s) for s in STATES)],
            )
        else:
            response = session.get(next_url)
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200:
            errors.append(f"{response.status_code} {response.text[:80]}")
        items.append(len(response.json()))
        pages += 1
        next_url = response.links.get("next", {}).get("url")
        if next_url is None:
            course = course % courses + 1


def _scenario(courses: int, students: int) -> str:
    """One institution: load it, hammer it, return a Markdown table row."""
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        t0 = time.perf_counter()
        doc = generate(courses=courses, students_per_course=students, random_seed=1)
        seed.write_text(json.dumps(doc, separators=(",", ":")))
        generate_s = time.perf_counter() - t0
        n_enrollments = len(doc["enrollments"])
        del doc
        with simulator_process(seed, "--throttle", "off") as server:
            url, load_s = server.url, server.load_seconds
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            requests.get(
                f"{url}/api/v1/courses/1/enrollments", headers=headers, timeout=30
            ).raise_for_status()
            latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
            items: list[list[int]] = [[] for _ in range(CLIENTS)]
            errors: list[str] = []
            threads = [
                threading.Thread(
                    target=_client,
                    args=(url, courses, 1 + i * (courses // CLIENTS), latencies[i], items[i], errors),
                )
                for i in range(CLIENTS)
            ]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t0
            cpu = _cpu_seconds(server.pid)
    pairs = [
        (lat, n) for lats, ns in zip(latencies, items, strict=True) for lat, n in zip(lats, ns, strict=True)
    ]
    pages = len(pairs)
    total_items = sum(n for _, n in pairs)
    full = [lat for lat, n in pairs if n == 100]
    return (
        f"| {courses:,} x {students} | {n_enrollments:,} | {generate_s:.1f} s | {load_s:.2f} s | "
        f"{total_items / pages:.0f} | {pages / elapsed:,.0f} | {total_items / elapsed:,.0f} | "
        f"{_percentiles([lat for lat, _ in pairs])} | {_percentiles(full)} | {cpu} | {len(errors)} |"
    )


def _percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "-"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p99 * 1000:.1f} ms"


def run() -> str:
    load_before = os.getloadavg()[0]
    rows = [_scenario(courses, students) for courses, students in SCENARIOS]
    load_after = os.getloadavg()[0]
    lines = [
        "## Simulator (`bench/sim.py`)",
        "",
        "Server: `reconcile sim serve --throttle off` in its own process, seeded from a generated JSON file.",
        f"Clients: {CLIENTS} threads with keep-alive sessions, {PAGES_PER_CLIENT} pages each, `per_page=100`,",
        "all 7 states, following `Link: rel=next`. Load = process start to the `listening on` line",
        "(parse, schema validation, indexing). Bounds: load < 10 s, > 100 pages/s, no errors.",
        "",
        "| courses x students | enrollments | generate | load | items/page | pages/s | enrollments/s "
        "| p50 / p99 all pages | p50 / p99 100-item pages | server CPU | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Machine: {os.cpu_count()} cores, 1-minute load average {load_before:.1f} before and {load_after:.1f} after",
        "the run (anything above the core count means other work shared the CPU). The client threads run in",
        "the benchmark's own Python process, so client and server compete for CPU: the figures are a floor.",
    ]
    return "\n".join(lines)


def _cpu_seconds(pid: int) -> str:
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return f"{times.user + times.system:.1f} s"
    except Exception:  # psutil missing or the process is gone: the figure is optional
        return "n/a"


if __name__ == "__main__":
    print(run())
