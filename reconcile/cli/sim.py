"""``reconcile sim``: run the Canvas simulator, or generate a synthetic institution for it."""

from __future__ import annotations

import gc
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from reconcile.cli.common import output_options
from reconcile.render.common import counted


@click.group()
@output_options
def sim() -> None:
    """The local Canvas simulator (for tests, benchmarks and demos)."""


def _check_seed_size(path: Path) -> None:
    """A YAML seed is user-supplied: refuse an alias bomb before the simulator expands it
    (reconcile.boundedyaml). JSON cannot alias, and syntax errors are the seed loader's to report."""
    if path.suffix.lower() == ".json":
        return
    import yaml

    from reconcile import boundedyaml

    try:
        boundedyaml.check(path.read_text(encoding="utf-8"))
    except boundedyaml.YamlTooLarge as exc:
        raise click.ClickException(f"{path}: refused: {exc.problem}") from exc
    except (yaml.YAMLError, UnicodeDecodeError):
        pass


@sim.command()
@click.option(
    "--seed",
    "seed_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed file (YAML or JSON) describing the institution; `reconcile schema sim-seed` prints its "
    "JSON Schema, `reconcile sim generate` writes one.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one."
)
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Added latency per request.",
)
@click.option(
    "--jitter-ms", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Latency jitter (+/-)."
)
@click.option(
    "--error-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of 500/502/503 answers.",
)
@click.option(
    "--drop-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of connections closed without an answer.",
)
@click.option(
    "--lost-response-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of requests processed but answered by closing the connection.",
)
@click.option("--fault-seed", default=None, type=int, help="Random seed that makes the faults repeatable.")
@click.option(
    "--throttle",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="Canvas's leaky-bucket rate limit.",
)
@click.option(
    "--throttle-status",
    type=click.Choice(["403", "429"]),
    default="429",
    show_default=True,
    help="Status of a throttled answer (429 hosted Canvas today, 403 older Canvas).",
)
@click.option(
    "--request-cost",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Throttle cost of one request.",
)
@click.option(
    "--item-cost",
    default=0.01,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Extra throttle cost per item of a list page.",
)
@click.option(
    "--report-delay",
    "report_delay",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0, max=86400),
    help="Seconds an account report (provisioning_csv) takes from its POST to complete.",
)
@output_options
def serve(
    seed_path: Path,
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    error_rate: float,
    drop_rate: float,
    lost_response_rate: float,
    fault_seed: int | None,
    throttle: str,
    throttle_status: str,
    request_cost: float,
    item_cost: float,
    report_delay: float,
) -> None:
    """Serve the Enrollments API on HOST:PORT until interrupted.

    The first line printed is "listening on http://HOST:PORT". Clients authenticate with
    the seed's tokens (its `tokens:` list; see `reconcile schema sim-seed`).
    """
    from reconcile.sim import SeedError, Simulator

    _check_seed_size(seed_path)
    try:
        simulator = Simulator.from_seed(
            seed_path,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            error_rate=error_rate,
            drop_rate=drop_rate,
            lost_response_rate=lost_response_rate,
            fault_seed=fault_seed,
            throttle=throttle == "on",
            throttle_status=int(throttle_status),
            request_cost=request_cost,
            item_cost=item_cost,
            report_delay_s=report_delay,
        )
    except SeedError as exc:
        raise click.ClickException(str(exc)) from exc
    # The loaded world lives as long as the process: keep the collector from walking it
    # again and again while requests allocate (a 100k-enrollment seed is ~1M objects).
    gc.collect()
    gc.freeze()

    def stop(signum: int, frame: FrameType | None) -> None:
        simulator.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def ready(url: str) -> None:
        click.echo(f"listening on {url}")
        sys.stdout.flush()

    try:
        simulator.serve_forever(host=host, port=port, ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc


@sim.command()
@click.option(
    "--courses", default=20, show_default=True, type=click.IntRange(min=1), help="Number of courses."
)
@click.option("--students-per-course", default=30, show_default=True, type=click.IntRange(min=0))
@click.option("--sections-per-course", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--random-seed", default=0, show_default=True, type=int, help="Same seed, same institution.")
@click.option(
    "--linked-parents",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of students with a parent linked to them (an observer link, and the observer enrollments Canvas "
    "keeps in step with it).",
)
@click.option(
    "--crosslisted-sections",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of the published courses' sections cross-listed into another course of the same term, "
    "enrollments with them.",
)
@click.option(
    "--second-logins",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of users with a second SIS login (a re-issued student id).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.json is fastest to load; .yaml/.yml writes YAML).",
)
@output_options
def generate(
    courses: int,
    students_per_course: int,
    sections_per_course: int,
    random_seed: int,
    linked_parents: float,
    crosslisted_sections: float,
    second_logins: float,
    out: Path,
) -> None:
    """Write a deterministic synthetic institution as a simulator seed, and print the API
    tokens it holds (for CANVAS_API_TOKEN)."""
    from reconcile.sim.generate import generate as build

    started = time.perf_counter()
    doc = build(
        courses=courses,
        students_per_course=students_per_course,
        sections_per_course=sections_per_course,
        random_seed=random_seed,
        linked_parents=linked_parents,
        crosslisted_sections=crosslisted_sections,
        second_logins=second_logins,
    )
    if out.suffix in (".yaml", ".yml"):
        import yaml

        out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    else:
        out.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    extras = [
        f"{len(doc.get('observer_links', []))} observer links" if linked_parents else "",
        f"{sum(1 for s in doc['sections'] if s.get('nonxlist_course_id'))} cross-listed sections"
        if crosslisted_sections
        else "",
        f"{sum(1 for u in doc['users'] if u.get('pseudonyms'))} users with a second login"
        if second_logins
        else "",
    ]
    extra = "".join(f", {e}" for e in extras if e)
    click.echo(
        f"wrote {out}: {counted(len(doc['courses']), 'course')}, {counted(len(doc['users']), 'user')}, "
        f"{counted(len(doc['enrollments']), 'enrollment')}{extra} in {time.perf_counter() - started:.1f}s"
    )
    for entry in doc.get("tokens", []):
        who = "account admin" if entry.get("admin") else "user"
        click.echo(f"token {entry['token']} ({who}, user id {entry['user_id']})")
