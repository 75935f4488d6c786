"""A OneRoster zip's CSV members, read so that a hostile archive costs nothing. Pure: takes bytes.

A zip states each member's uncompressed size in its central directory, and Python's
``zipfile`` never yields more than that size (the CRC check then fails), so every limit
below is decided from the directory before a byte is inflated:

- at most :data:`MAX_MEMBERS` members, their declared sizes at most :data:`MAX_TOTAL` bytes
  together, and no member of a megabyte or more that inflates more than :data:`MAX_RATIO`
  times (a real roster CSV compresses about ten times; a zip bomb a thousand or more);
- no member named with ``..`` or an absolute path, and no two members that would share
  a file name (members are read by their base name, as in a folder);
- a member whose content does not match its declared size or CRC is a damaged archive.

Every refusal is a :class:`~reconcile.roster.problems.Problem` naming the file and member.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from reconcile.roster.problems import Problem, error

MAX_MEMBERS = 100
MAX_TOTAL = 1 << 30  # 1 GiB of CSV, declared uncompressed
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20  # smaller members may compress any amount (a file of blank lines)
_DRIVE = re.compile(r"\A[A-Za-z]:")


def read_members(name: str, data: bytes) -> tuple[dict[str, bytes] | None, list[Problem]]:
    """``{base name: bytes}`` of the archive's files, or None and the problems that refuse it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        return None, [error(name, None, None, "bad_zip", f"not a readable zip archive: {exc}")]
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        problems = _refusals(name, files)
        if problems:
            return None, problems
        members: dict[str, bytes] = {}
        for info in files:
            try:
                members[PurePosixPath(info.filename.replace("\\", "/")).name] = _read(archive, info)
            except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
                return None, [
                    error(name, None, None, "bad_zip", f"member {info.filename!r} cannot be read: {exc}")
                ]
    return members, []


def _refusals(name: str, files: list[zipfile.ZipInfo]) -> list[Problem]:
    def refuse(message: str) -> Problem:
        return error(name, None, None, "zip_refused", message)

    if len(files) > MAX_MEMBERS:
        return [
            refuse(f"holds {len(files)} files; a OneRoster zip holds a few CSV files (at most {MAX_MEMBERS})")
        ]
    problems = []
    seen: dict[str, str] = {}
    for info in files:
        path = info.filename.replace("\\", "/")
        if path.startswith("/") or _DRIVE.match(path) or ".." in path.split("/"):
            problems.append(refuse(f"member {info.filename!r} has an absolute path or '..' in its name"))
            continue
        base = PurePosixPath(path).name
        if base in seen:
            problems.append(
                refuse(f"members {seen[base]!r} and {info.filename!r} share the file name {base!r}")
            )
        seen[base] = info.filename
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FLOOR and ratio > MAX_RATIO:
            problems.append(
                refuse(
                    f"member {info.filename!r} would inflate {ratio:,.0f} times ({info.compress_size:,} to "
                    f"{info.file_size:,} bytes); a roster CSV compresses about 10 times, at most {MAX_RATIO} is read"
                )
            )
    total = sum(info.file_size for info in files)
    if total > MAX_TOTAL:
        problems.append(
            refuse(f"its files would inflate to {total:,} bytes, more than the {MAX_TOTAL:,} read")
        )
    return problems


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, never more than it declares: ``zipfile`` stops at the declared
    size and checks the CRC at the end, so a header that lies is a damaged archive."""
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"holds {len(data):,} bytes, not the {info.file_size:,} it declares")
    return data
