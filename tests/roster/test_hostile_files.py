"""Hostile input files cost nothing (reconcile/boundedyaml.py, reconcile/roster/unzip.py).

Each attack runs the real command line in a child process whose peak resident memory is
read back from the kernel (``RUSAGE_CHILDREN`` of a fresh wrapper process, so nothing else
this test session started counts). Each must be refused with exit 1, a message naming the
file, and a peak under :data:`PEAK_LIMIT_MB`; without the limits each would need gigabytes.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEAK_LIMIT_MB = 300
TIMEOUT = 120

# Runs argv, then reports the child's exit code, output and peak RSS (KiB on Linux, bytes on macOS).
_WRAPPER = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=float({timeout}))
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
scale = 1 if sys.platform == "darwin" else 1024
print(json.dumps({{"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr, "peak": peak * scale}}))
"""


def measured(*args: str) -> dict[str, Any]:
    """Run ``reconcile ARGS`` in a child process; its exit code, output and peak RSS in MB."""
    wrapper = _WRAPPER.format(timeout=TIMEOUT)
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "reconcile", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TIMEOUT + 30,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    result["peak_mb"] = result.pop("peak") / (1 << 20)
    result["output"] = result["out"] + result["err"]
    return result


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """The classic "billion laughs": ``width ** levels`` strings from a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def many_aliases(count: int = 1000) -> str:
    rows = "\n".join(f"  - {{<<: *d, user: s{i}}}" for i in range(count))
    return f"defaults: &d {{role: student, status: active}}\ncourses:\n{rows}\n"


def zip_bomb(path: Path, *, inflated: int = 1 << 30, declared: int | None = None) -> Path:
    """A zip whose one CSV member inflates to ``inflated`` bytes (about a thousand times its
    size). Its deflate stream is one fully flushed segment of zeros repeated, so building a
    gigabyte bomb takes a second. ``declared`` lies about the size in the headers."""
    segment_size = 64 << 20
    header = b"sourcedId,classSourcedId,userSourcedId,role,status\n"
    zeros = bytes(segment_size)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(header) + first.compress(zeros) + first.flush(zlib.Z_FULL_FLUSH)
    rest = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = rest.compress(zeros) + rest.flush(zlib.Z_FULL_FLUSH)
    count = max(1, inflated // segment_size)
    stream = head + segment * (count - 1) + b"\x03\x00"  # an empty final block ends the stream
    crc = zlib.crc32(header)
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    size = len(header) + count * segment_size if declared is None else declared
    name = b"enrollments.csv"
    fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(stream), size, len(name), 0)
    local = b"PK\x03\x04" + fields + name
    central = b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, 0) + name
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    path.write_bytes(local + stream + central + end)
    return path


def _assert_refused_cheaply(result: dict[str, Any], file: Path, *words: str) -> None:
    assert result["rc"] == 1, result["output"]
    assert str(file) in result["output"] or file.name in result["output"], result["output"]
    for word in words:
        assert word in result["output"], result["output"]
    assert "Traceback" not in result["output"]
    assert result["peak_mb"] < PEAK_LIMIT_MB, f"peak {result['peak_mb']:.0f} MB"


def test_the_zip_bomb_is_what_it_claims(tmp_path: Path) -> None:
    """The attack is real: the archive is valid and inflates to a gigabyte."""
    bomb = zip_bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 2 << 20
    with zipfile.ZipFile(bomb) as archive:
        (info,) = archive.infolist()
        assert info.file_size > 1 << 30 and archive.testzip() is None  # every CRC checks out


@pytest.mark.slow
def test_yaml_alias_bomb_roster_is_refused_cheaply(tmp_path: Path) -> None:
    bomb = tmp_path / "roster.yaml"
    bomb.write_text(alias_bomb(), encoding="utf-8")
    assert len(bomb.read_bytes()) < 1000
    result = measured("validate", str(bomb))
    _assert_refused_cheaply(result, bomb, "refused", "aliases would expand")


@pytest.mark.slow
def test_yaml_with_too_many_aliases_is_refused_cheaply(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(many_aliases(), encoding="utf-8")
    result = measured("validate", str(roster))
    _assert_refused_cheaply(result, roster, "more than 100 aliases")


@pytest.mark.slow
def test_yaml_alias_bomb_config_is_refused_cheaply(tmp_path: Path) -> None:
    config = tmp_path / "reconcile.yaml"
    config.write_text(alias_bomb(), encoding="utf-8")
    roster = tmp_path / "enrollments.csv"
    roster.write_text("course_id,user_id,role,status\nC1,s1,student,active\n", encoding="utf-8")
    result = measured("validate", str(roster), "-c", str(config))
    _assert_refused_cheaply(result, config, "refused", "aliases would expand")


@pytest.mark.slow
def test_yaml_alias_bomb_simulator_seed_is_refused_cheaply(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(alias_bomb(), encoding="utf-8")
    result = measured("sim", "serve", "--seed", str(seed))
    _assert_refused_cheaply(result, seed, "refused", "aliases would expand")


@pytest.mark.slow
def test_zip_bomb_is_refused_by_its_ratio_before_inflating(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "roster.zip")
    result = measured("validate", str(bomb))
    _assert_refused_cheaply(result, bomb, "enrollments.csv", "would inflate")


@pytest.mark.slow
def test_zip_bomb_that_lies_about_its_size_is_refused_as_damaged(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "roster.zip", declared=1000)  # passes the ratio and total checks
    result = measured("validate", str(bomb))
    _assert_refused_cheaply(result, bomb, "enrollments.csv", "cannot be read")


@pytest.mark.slow
def test_zip_member_names_that_climb_out_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "roster.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("manifest.csv", "propertyName,value\nmanifest.version,1.0\n")
        z.writestr("../enrollments.csv", "sourcedId\n")
        z.writestr("/etc/users.csv", "sourcedId\n")
        z.writestr("C:\\classes.csv", "sourcedId\n")
    result = measured("validate", str(archive))
    _assert_refused_cheaply(
        result, archive, "'../enrollments.csv'", "'/etc/users.csv'", "'C:\\\\classes.csv'"
    )
