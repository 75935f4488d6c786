"""Small helpers for roster tests: write a file, load it, pick problems apart."""

from __future__ import annotations

from pathlib import Path

from reconcile.config import Config
from reconcile.roster import RosterResult, load_rosters

HEADER = "course_id,section_id,user_id,role,status,start_date,end_date,associated_user_id,limit_section_privileges\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def load(*paths: Path, config: Config | None = None, format: str | None = None) -> RosterResult:
    return load_rosters(list(paths), config=config, format=format)


def codes(result: RosterResult) -> list[tuple[str | None, str | None, str]]:
    return [(p.row, p.column, p.code) for p in result.problems]
