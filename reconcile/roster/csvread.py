"""Bytes -> table of strings, with every structural fault of the file found first.

SIS exports break in a few typical ways: a Windows code page instead of UTF-8, a file cut
off half way (a quoted field never closed, a last row with too few fields), rows with a
stray delimiter. :func:`read_csv_table` finds all of these with one vectorised scan of the
bytes (numpy), then parses the good records with pandas' C parser. A file skips the
scan when its comma and line counts prove every row whole: always checkable without
quotes, and with quotes once no parsed cell holds a comma, newline or quote. Each record
keeps the physical line it starts on (header = line 1), so problems point at what an
editor shows even when quoted fields span lines. Pure: takes bytes, does no I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.roster.csvfast import cells_hold, read_strings
from reconcile.roster.problems import Problem, error

BOM = b"\xef\xbb\xbf"
ROW = "_row"  # column holding each record's line number, as a string
FILE = "_file"  # optional column: the file a row came from, when one input has several


@dataclass(frozen=True)
class Table:
    """Parsed records: ``frame`` has one str column per header name plus :data:`ROW`."""

    frame: pd.DataFrame
    header: tuple[str, ...]


def decode_check(data: bytes, file: str) -> tuple[bytes, list[Problem]]:
    """Strip a UTF-8 BOM; report the first byte that is not UTF-8 (line, column, value).

    Returns the bytes without BOM and the problems; callers stop on any problem, since a
    file in the wrong encoding would put mangled names into Canvas.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, [
            error(file, None, None, "encoding", "file is UTF-16 (byte-order mark found); save it as UTF-8")
        ]
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        if not data.isascii():  # ASCII is UTF-8; only decode (a full copy) when it matters
            data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = data.count(b"\n", 0, pos) + 1
        col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
        bad = data[pos]
        hint = " (Windows-1252/Latin-1?)" if bad >= 0x80 else ""
        return data, [
            error(
                file,
                line,
                None,
                "encoding",
                f"not UTF-8: byte 0x{bad:02X} at line {line}, byte {col} of the line{hint}; "
                "re-export the file as UTF-8",
            )
        ]
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        return data, [error(file, line, None, "encoding", f"NUL byte at line {line}: not a text file")]
    return data, []


@dataclass(frozen=True)
class _Scan:
    starts: np.ndarray  # byte offset of each record
    ends: np.ndarray  # byte offset of its terminating newline (or EOF)
    fields: np.ndarray  # field count per record
    lines: np.ndarray  # physical 1-based line each record starts on
    blank: np.ndarray  # empty records (blank lines)
    unclosed: int | None  # index of the record whose quoted field never closes


def _scan(data: bytes) -> _Scan:
    arr = np.frombuffer(data, dtype=np.uint8)
    if b'"' in data:
        quotes = (arr == 34).view(np.uint8)
        # Parity of quotes seen so far: odd means inside a quoted field. An escaped quote
        # ("") flips it twice, so it is unaffected. A running byte sum wraps at 256, which
        # keeps its parity, and numpy sums faster than it XORs.
        np.cumsum(quotes, dtype=np.uint8, out=quotes)
        outside = np.bitwise_and(quotes, 1, out=quotes) == 0
        del quotes
        open_at = data.rfind(b'"') if not outside[-1] else None  # the quote never closed
        newlines = np.flatnonzero((arr == 10) & outside)
        commas = np.flatnonzero((arr == 44) & outside)
        del outside
    else:
        newlines = np.flatnonzero(arr == 10)
        commas = np.flatnonzero(arr == 44)
        open_at = None
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(arr)]))
    if starts[-1] == len(arr):  # file ends with a newline: no record after it
        starts, ends = starts[:-1], ends[:-1]
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    del commas
    length = ends - starts
    blank = length == 0
    single = np.flatnonzero(length == 1)
    blank[single] = arr[starts[single]] == 13  # a lone CR of a CRLF blank line
    if len(newlines) == data.count(b"\n"):
        lines = np.arange(1, len(starts) + 1)
    else:  # quoted newlines: count physical lines before each record
        lines = np.searchsorted(np.flatnonzero(arr == 10), starts) + 1
    unclosed = int(np.searchsorted(starts, open_at, side="right") - 1) if open_at is not None else None
    return _Scan(starts, ends, fields, lines, blank, unclosed)


def read_csv_table(
    data: bytes, file: str, *, distinct: Collection[str] = ()
) -> tuple[Table | None, list[Problem]]:
    """Parse UTF-8 CSV bytes (BOM already removed) into a :class:`Table` of strings.

    ``distinct`` names columns (trimmed, lower case) that repeat a few values on many
    rows: they come back as pandas Categoricals of the very same strings (the parser
    makes one Python string per distinct value instead of one per row, and the codes are
    the factorization). Every other column holds plain strings.

    Reports, all at once: no header, no data rows, an unclosed quote, rows with the
    wrong number of fields (the last one as ``truncated``), duplicate header names.
    Rows with structural faults are left out of the table; everything else is kept,
    so later checks still see every other row.
    """
    problems: list[Problem] = []
    if not data or data.isspace():
        return None, [error(file, None, None, "empty_file", "file is empty")]
    if b"\r" in data and b"\n" not in data:  # classic Mac line ends: CR alone
        data = data.replace(b"\r", b"\n")
    end = data.find(b"\n")
    if not data[: end if end >= 0 else len(data)].strip():
        return None, [
            error(file, 1, None, "no_header", "the first line is empty: the header must come first")
        ]
    fast = _read_fast(data, file, distinct)
    if fast is not None:
        return fast
    scan = _scan(data)
    keep = ~scan.blank
    cut = len(scan.starts)
    if scan.unclosed is not None:
        cut = scan.unclosed
        problems.append(
            error(
                file,
                int(scan.lines[cut]),
                None,
                "truncated",
                "a quote is never closed: the file looks cut off here (or a field holds a stray quote)",
            )
        )
        keep[cut:] = False
    if cut == 0:
        return None, problems
    width = int(scan.fields[0])
    wrong = keep.copy()
    wrong[0] = False
    wrong &= scan.fields != width
    last_data = int(np.flatnonzero(keep)[-1]) if keep.any() else 0
    for i in np.flatnonzero(wrong):
        got = int(scan.fields[i])
        if i == last_data and got < width and scan.unclosed is None:
            problems.append(
                error(
                    file,
                    int(scan.lines[i]),
                    None,
                    "truncated",
                    f"last row has {got} of {width} fields: the file looks cut off",
                )
            )
        else:
            problems.append(
                error(
                    file,
                    int(scan.lines[i]),
                    None,
                    "field_count",
                    f"row has {got} fields, the header has {width}",
                )
            )
    keep &= ~wrong
    frame = _parse(data, scan, cut, keep, width, distinct)
    if frame is None:  # pandas and the scan disagree (odd quoting): use the csv module
        frame, extra = _parse_slow(
            data[: int(scan.starts[cut])] if cut < len(scan.starts) else data, file, width
        )
        problems.extend(p for p in extra if all(p.row != q.row for q in problems))
        header = tuple(str(name).strip() for name in frame.columns[:-1])
    else:
        first = data[int(scan.starts[0]) : int(scan.ends[0])].decode("utf-8")
        header = _header_cells(first.rstrip("\r"))
        if len(header) != len(frame.columns) - 1:
            header = tuple(str(name).strip() for name in frame.columns[:-1])
    frame.columns = [*header, ROW]
    problems += _header_problems(header, file)
    if len(frame) == 0 and not any(p.code in {"truncated", "field_count"} for p in problems):
        problems.append(error(file, None, None, "empty_file", "file has a header but no data rows"))
    return Table(frame, header), problems


def _read_fast(data: bytes, file: str, distinct: Collection[str]) -> tuple[Table, list[Problem]] | None:
    """The common case without a byte-level scan: no blank lines, every row whole.

    When every comma in the bytes separates fields, the file is well formed exactly when
    it holds (fields - 1) commas per record: pandas refuses rows with too many fields, and
    a short row could only hide behind a long one. Without quotes that is so; with quotes
    it is so when no parsed cell (or header name) holds a comma, newline or quote: pandas
    keeps every other byte in a cell, so each quote then opened or closed a whole field
    and each comma and newline is structure, as the byte-level scan would read it too.
    Returns None when any doubt remains.
    """
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # a lone CR ends lines for pandas
        return None
    arr = np.frombuffer(data, dtype=np.uint8)
    quoted = b'"' in data
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    names = _header_cells(first, strip=False) if quoted else tuple(first.split(","))
    width = len(names)
    # Counted before parsing, so a file that fails here (commas inside cells, a short
    # row) goes to the scan without being parsed twice.
    hits = np.equal(arr, 44)  # commas; one buffer serves both counts
    commas = int(np.count_nonzero(hits))
    lines = int(np.count_nonzero(np.equal(arr, 10, out=hits))) + (not data.endswith(b"\n"))
    del hits
    if commas != (width - 1) * lines:
        return None
    try:
        frame = read_strings(data, names, distinct, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
        return None
    # One line per record (header included) means no blank lines were skipped, and then
    # the comma count above gives every record exactly width - 1 separators.
    if len(frame.columns) != width or lines != len(frame) + 1:
        return None
    if quoted and cells_hold(frame, ',\n"'):
        return None
    header = tuple(name.strip() for name in names)
    frame.columns = list(header)
    frame[ROW] = np.arange(2, len(frame) + 2)
    problems = _header_problems(header, file)
    if len(frame) == 0:
        problems.append(error(file, None, None, "empty_file", "file has a header but no data rows"))
    return Table(frame, header), problems


def _header_cells(line: str, *, strip: bool = True) -> tuple[str, ...]:
    """The header line's cells (quoted names allowed); a stray CR inside is just text."""
    try:
        cells = next(csv.reader(io.StringIO(line, newline="")), [])
    except csv.Error:
        cells = line.split(",")
    return tuple(name.strip() if strip else name for name in cells)


def _header_problems(header: tuple[str, ...], file: str) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        if name.lower() in seen:
            problems.append(
                error(file, 1, name, "duplicate_column", f"column {name!r} appears twice in the header")
            )
        seen.add(name.lower())
    return problems


def _parse(
    data: bytes, scan: _Scan, cut: int, keep: np.ndarray, width: int, distinct: Collection[str]
) -> pd.DataFrame | None:
    end = int(scan.starts[cut]) if cut < len(scan.starts) else len(data)
    good = keep[1:cut]
    if not good.all():
        # Hand pandas only whole, well-formed records so its rows line up with the scan.
        pieces = [data[int(scan.starts[0]) : int(scan.ends[0])]]
        pieces += [data[int(scan.starts[i]) : int(scan.ends[i])] for i in np.flatnonzero(keep[:cut]) if i > 0]
        body = b"\n".join(pieces) + b"\n"
        lines = scan.lines[:cut][keep[:cut]][1:]
        blank_rows = np.zeros(len(lines), dtype=bool)
    else:
        body = data[:end]
        lines = scan.lines[1:cut]
        blank_rows = scan.blank[1:cut]
    first = data[int(scan.starts[0]) : int(scan.ends[0])].decode("utf-8").rstrip("\r")
    try:
        frame = read_strings(body, _header_cells(first, strip=False), distinct, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
        return None
    if len(frame.columns) != width or len(frame) != len(lines):
        return None
    frame[ROW] = lines.astype(str)
    if blank_rows.any():
        frame = frame[~blank_rows]
    return frame.reset_index(drop=True)


def _parse_slow(data: bytes, file: str, width: int) -> tuple[pd.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header: list[str] = []
    rows: list[list[str]] = []
    start_line = 1
    for record in reader:
        if not header:
            header = record
            start_line = reader.line_num + 1
            continue
        line = start_line
        start_line = reader.line_num + 1
        if not record:
            continue
        if len(record) != len(header):
            problems.append(
                error(
                    file,
                    line,
                    None,
                    "field_count",
                    f"row has {len(record)} fields, the header has {len(header)}",
                )
            )
            continue
        rows.append([*record, str(line)])
    return pd.DataFrame(rows, columns=[*header, ROW], dtype=str), problems
