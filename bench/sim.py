"""Simulator benchmark: seed load time, and list-page throughput under 8 concurrent clients.

The server runs in its own process (``reconcile sim serve``, throttle off) so the client
threads' GIL does not slow it down. The synthetic institution is 2,000 courses of 50
students (about 103,000 enrollments); each client walks course enrollment lists with
``per_page=100`` and every state, following Link headers, for a fixed number of pages.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from reconcile.sim.generate import ADMIN_TOKEN, generate

COURSES = 2000
STUDENTS = 50
CLIENTS = 8
PAGES_PER_CLIENT = 400
STATES = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]


def _start_server(seed: Path) -> tuple[subprocess.Popen[str], str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "sim", "serve", "--seed", str(seed), "--throttle", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, line.split()[-1], time.perf_counter() - started


def _client(url: str, first_course: int, latencies: list[float], items: list[int], errors: list[str]) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    course = first_course
    pages = 0
    next_url: str | None = None
    while pages < PAGES_PER_CLIENT:
        t0 = time.perf_counter()
        if next_url is None:
            response = session.get(
                f"{url}/api/v1/courses/{course}/enrollments", params={"per_page": 100, "state[]": STATES}
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
            course = course % COURSES + 1


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        t0 = time.perf_counter()
        doc = generate(courses=COURSES, students_per_course=STUDENTS, random_seed=1)
        seed.write_text(json.dumps(doc, separators=(",", ":")))
        generate_s = time.perf_counter() - t0
        n_enrollments = len(doc["enrollments"])
        size_mb = seed.stat().st_size / 1e6
        del doc
        proc, url, load_s = _start_server(seed)
        try:
            warm = requests.get(
                f"{url}/api/v1/courses/1/enrollments", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            warm.raise_for_status()
            latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
            items: list[list[int]] = [[] for _ in range(CLIENTS)]
            errors: list[str] = []
            threads = [
                threading.Thread(
                    target=_client, args=(url, 1 + i * (COURSES // CLIENTS), latencies[i], items[i], errors)
                )
                for i in range(CLIENTS)
            ]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t0
            cpu = _cpu_seconds(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    all_lat = sorted(x for lat in latencies for x in lat)
    pages = len(all_lat)
    total_items = sum(sum(i) for i in items)
    p50 = statistics.median(all_lat) * 1000
    p99 = all_lat[min(pages - 1, int(pages * 0.99))] * 1000
    lines = [
        "## Simulator (`bench/sim.py`)",
        "",
        f"Seed: {COURSES:,} courses, {n_enrollments:,} enrollments ({size_mb:.1f} MB JSON, generated in {generate_s:.1f} s).",
        "Server: `reconcile sim serve --throttle off` in its own process; clients: "
        f"{CLIENTS} threads with keep-alive sessions, {PAGES_PER_CLIENT} pages each, `per_page=100`, all 7 states.",
        "",
        "| measure | value | bound |",
        "|---|---|---|",
        f"| load (process start to `listening on`) | {load_s:.2f} s | < 10 s for 100k enrollments |",
        f"| pages served | {pages:,} in {elapsed:.2f} s | |",
        f"| throughput | {pages / elapsed:,.0f} pages/s, {total_items / elapsed:,.0f} enrollments/s | > 100 pages/s |",
        f"| mean items per page | {total_items / pages:.1f} | courses hold ~52 enrollments, so one page each |",
        f"| latency p50 / p99 | {p50:.1f} ms / {p99:.1f} ms | |",
        f"| server CPU during the run | {cpu} | |",
        f"| non-200 answers | {len(errors)} | 0 |",
        "",
        f"Machine: {os.cpu_count()} cores; the 8 client threads share one Python process with the benchmark,",
        "so on a 2-core machine client and server compete for CPU: figures are a floor, not a ceiling.",
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
