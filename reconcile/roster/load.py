"""``load_rosters``: roster files in, one desired table plus every problem out.

Reads each input (path, folder, zip or file-like object), detects its format from the
content unless told, hands the bytes to the format's reader, normalises the rows and
finally checks identities across all files together. Reading files is the only I/O;
nothing here talks to Canvas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.frames import DESIRED_COLUMNS, ROLE_WORDS, conform, empty_frame
from reconcile.roster import oneroster, sis_csv, unzip, yaml_roster
from reconcile.roster.identity import check_identities, codes_for
from reconcile.roster.normalise import Rules, normalise
from reconcile.roster.problems import Problem, error, sorted_problems

FORMATS = ("sis-csv", "yaml", "oneroster")
Source = str | Path | IO[bytes] | IO[str]


@dataclass(frozen=True)
class RosterResult:
    """The desired state read from rosters, where it came from, and what is wrong with it.

    ``desired`` has exactly :data:`reconcile.frames.DESIRED_COLUMNS` and holds only rows
    without errors. ``complete`` is False when any input is a OneRoster *delta*: the
    rows then say what changes, not the whole roster, so absent rows must not be dropped.
    """

    desired: pd.DataFrame
    inputs: tuple[dict[str, Any], ...]
    problems: tuple[Problem, ...]
    complete: bool = True

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def load_rosters(
    paths: Sequence[Source], *, config: Config | None = None, format: str | None = None
) -> RosterResult:
    """Load and validate every roster in ``paths`` into one desired table.

    Never raises for bad input: unreadable files, wrong formats and bad rows all become
    :class:`Problem` entries. ``format`` (sis-csv, yaml, oneroster; None or "auto" =
    detect) applies to every input.
    """
    config = config or Config()
    if format == "auto":
        format = None
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown roster format {format!r}; expected one of {', '.join(FORMATS)}")
    rules = _rules(config)
    frames: list[pd.DataFrame] = []
    key_codes: list[dict[str, np.ndarray]] = []
    problems: list[Problem] = []
    inputs: list[dict[str, Any]] = []
    complete = True
    for source in paths:
        name, payload, read_problems = _read(source)
        problems += read_problems
        if payload is None:
            continue
        if isinstance(payload, bytes) and (not payload or payload.isspace()):
            problems.append(error(name, None, None, "empty_file", "file is empty"))
            inputs.append(
                {"path": name, "format": format or "unknown", "sha256": _digest(payload), "rows": 0}
            )
            continue
        kind = format or _detect(name, payload)
        if kind is None:
            problems.append(
                error(name, None, None, "unknown_format", "cannot tell the roster format; pass --format")
            )
            inputs.append({"path": name, "format": "unknown", "sha256": _digest(payload), "rows": 0})
            continue
        with ThreadPoolExecutor(max_workers=1) as pool:
            # sha256 releases the GIL: hash while the CSV parser works.
            hashing = pool.submit(_digest, payload)
            raw, found, is_delta = _raw_rows(kind, name, payload, config)
            digest = hashing.result()
        del payload  # the bytes are no longer needed; free them before normalising
        problems += found
        complete = complete and not is_delta
        rows = 0 if raw is None else len(raw)
        inputs.append({"path": name, "format": kind, "sha256": digest, "rows": rows})
        if raw is None or rows == 0:
            continue
        file_rules = (
            rules if kind == "sis-csv" else Rules(rules.custom_roles, config.policy.enrollment_state, True)
        )
        desired, found, codes = normalise(raw, name, file_rules)
        del raw
        problems += found
        frames.append(desired)
        key_codes.append(codes)
    if not paths:
        problems.append(error("<input>", None, None, "no_input", "no roster files given"))
    if len(frames) == 1:
        combined, codes = frames[0], key_codes[0]
    else:
        combined = pd.concat(frames, ignore_index=True) if frames else empty_frame(DESIRED_COLUMNS)
        codes = codes_for(combined)  # codes are per file; recompute them over all files
    combined, found = check_identities(combined, codes)
    problems += found
    if not _conforms(combined):
        combined = conform(combined, DESIRED_COLUMNS)
    return RosterResult(combined, tuple(inputs), sorted_problems(problems), complete)


def _conforms(frame: pd.DataFrame) -> bool:
    """True when ``frame`` already has exactly the desired columns, in order and dtype
    (the normaliser builds them so): conforming again would only copy every column."""
    if list(frame.columns) != list(DESIRED_COLUMNS):
        return False
    return all(
        frame[name].dtype == pd.api.types.pandas_dtype(dtype) for name, dtype in DESIRED_COLUMNS.items()
    )


def _rules(config: Config) -> Rules:
    custom: dict[str, str | None] = dict(config.roster.custom_roles)
    for role in config.manage.roles or ():
        if role not in ROLE_WORDS.values():
            custom.setdefault(role, None)
    return Rules(custom_roles=custom, default_status=None)


Payload = bytes | dict[str, bytes]


def _read(source: Source) -> tuple[str, Payload | None, list[Problem]]:
    """Source -> (display name, bytes or {member: bytes} for a folder, problems)."""
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<stream>"))
        data = source.read()
        return name, data.encode("utf-8") if isinstance(data, str) else data, []
    path = Path(source)
    name = str(source)
    try:
        if path.is_dir():
            members = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
            return name, members, []
        return name, path.read_bytes(), []
    except FileNotFoundError:
        return name, None, [error(name, None, None, "not_found", "file not found")]
    except OSError as exc:
        return name, None, [error(name, None, None, "unreadable", f"cannot read: {exc.strerror or exc}")]


def _digest(payload: Payload) -> str:
    sha = hashlib.sha256()
    if isinstance(payload, bytes):
        sha.update(payload)
    else:
        for member in sorted(payload):
            sha.update(member.encode() + b"\0" + hashlib.sha256(payload[member]).digest())
    return sha.hexdigest()


def _detect(name: str, payload: Payload) -> str | None:
    if isinstance(payload, dict) or payload.startswith(b"PK\x03\x04"):
        return "oneroster"
    head = payload[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if "," in first:
        cells = [c.strip().strip('"') for c in first.split(",")]
        if sis_csv.looks_like_sis(cells):
            return "sis-csv"
        if oneroster.looks_like_oneroster(cells):
            return "oneroster"
    if (
        head.startswith((b"courses:", b"enrollments:", b"---", b"#", b"status:", b"version:"))
        or b"\ncourses:" in head
    ):
        return "yaml"
    if lower.endswith(".csv"):
        return "sis-csv"
    return None


def _raw_rows(
    kind: str, name: str, payload: Payload, config: Config
) -> tuple[pd.DataFrame | None, list[Problem], bool]:
    if kind == "oneroster":
        members = payload if isinstance(payload, dict) else None
        if members is None:
            assert isinstance(payload, bytes)
            if not payload.startswith(b"PK\x03\x04"):
                message = "a OneRoster roster is a folder or a zip of its CSV files (manifest.csv, enrollments.csv, ...)"
                return None, [error(name, None, None, "unknown_format", message)], False
            members, problems = unzip.read_members(name, payload)
            if members is None:
                return None, problems, False
        return oneroster.read_oneroster(members, name, config.oneroster)
    if not isinstance(payload, bytes):
        return None, [error(name, None, None, "unknown_format", f"a folder is not a {kind} roster")], False
    if kind == "yaml":
        raw, problems = yaml_roster.read_yaml_roster(payload, name, config)
        return raw, problems, False
    raw, problems = sis_csv.read_sis_csv(payload, name)
    return raw, problems, False
