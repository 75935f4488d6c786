"""Helpers of the CSV fast path: parse with pandas, then check the parse's cells.

:mod:`reconcile.roster.csvread` takes pandas' reading of a file as final without its
byte-level scan only when counting commas and newlines proves every record whole; these
helpers parse (repeating columns as categoricals) and tell whether any cell holds a
character that would make the counts meaningless. Pure: no I/O.
"""

from __future__ import annotations

import io
import warnings
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd


def read_strings(
    body: bytes, header: Sequence[str], distinct: Collection[str], **options: Any
) -> pd.DataFrame:
    """pandas' C parser over ``body``: every cell a string, ``distinct`` columns as
    Categoricals of strings. Raises what pandas raises for a malformed file, and
    :class:`pandas.errors.ParserWarning` where pandas would only warn (a first row longer
    than the header loses its extra cells under ``index_col=False``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return _read_strings(body, header, distinct, **options)


def _read_strings(
    body: bytes, header: Sequence[str], distinct: Collection[str], **options: Any
) -> pd.DataFrame:
    common: dict[str, Any] = {
        "keep_default_na": False,
        "na_filter": False,
        "encoding": "utf-8",
        "engine": "c",
        **options,
    }
    if not any(name.strip().lower() in distinct for name in header):
        return pd.read_csv(io.BytesIO(body), dtype=object, **common)
    # Any column not named here (a header pandas reads differently) stays text.
    wanted: defaultdict[str, Any] = defaultdict(lambda: object)
    wanted.update({name: "category" for name in header if name.strip().lower() in distinct})
    # Any thousands separator keeps pandas from reading all-numeric categories as numbers
    # ("01" and "1" would become one category); thousands= only affects numeric parsing.
    frame = pd.read_csv(io.BytesIO(body), dtype=wanted, thousands="\x1f", **common)
    # Whatever pandas still converted (numbers, booleans) is read again as the text it was.
    converted = [
        name
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype) and not _all_text(dtype.categories)
    ]
    if converted:
        again = pd.read_csv(io.BytesIO(body), dtype=object, usecols=converted, **common)
        for name in converted:
            frame[name] = again[name].to_numpy()
    return frame


def _all_text(categories: pd.Index) -> bool:
    if isinstance(categories.dtype, pd.StringDtype):  # holds nothing but str (or NA)
        return not categories.hasnans
    return all(isinstance(value, str) for value in categories)


def cells_hold(frame: pd.DataFrame, chars: str) -> bool:
    """True when any header name or cell of ``frame`` contains one of ``chars``.

    Categorical columns are checked on their distinct values only.
    """
    if any(c in name for name in frame.columns for c in chars):
        return True
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = column.cat.categories.to_numpy(dtype=object)
        else:
            values = column.to_numpy(dtype=object)
        text = "\x00".join(values)  # every cell is a string: na_filter is off
        if any(c in text for c in chars):
            return True
    return False
