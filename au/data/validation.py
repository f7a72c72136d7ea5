"""Checks of an index before any work: label values, duplicate rows, image files.

Every check returns problem lines instead of raising, so one error can list every problem of an
index at once (each kind on its own line, naming the CSV rows). Rows are the CSV's line numbers
(the header is line 1, the first image row line 2).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

#: Label values each ``label_type`` of ``index.json`` allows (an empty cell is always allowed).
INTENSITY_RANGE = (0.0, 5.0)
OCCURRENCE_VALUES = (0.0, 1.0)
#: How many rows a problem line names before it only counts the rest.
MAX_LISTED = 50


def csv_row(position: int) -> int:
    """The CSV line number of the table row at ``position`` (0-based, header on line 1)."""
    return position + 2


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """``items`` joined by commas; past ``limit`` of them, how many more there are."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} ... and {len(items) - limit} more"


def label_problems(table: pd.DataFrame, au_columns: Sequence[str], meta: dict) -> list[str]:
    """One line per AU column holding text or values outside the data set's scale.

    The scale comes from ``meta["label_type"]``: ``"occurrence"`` allows 0 and 1, anything
    else (``"intensity"``, or no label type) numbers from 0 to 5. Empty cells mean "not coded".
    """
    occurrence = meta.get("label_type") == "occurrence"
    expected = "0 or 1 (occurrence)" if occurrence else "a number from 0 to 5 (intensity)"
    problems = []
    for column in au_columns:
        raw = table[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        text = raw.notna().to_numpy() & np.isnan(values)
        if occurrence:
            outside = ~np.isnan(values) & ~np.isin(values, OCCURRENCE_VALUES)
        else:
            low, high = INTENSITY_RANGE
            outside = ~np.isnan(values) & ((values < low) | (values > high))
        bad = np.flatnonzero(text | outside)
        if len(bad):
            cells = [f"row {csv_row(i)}: {raw.iloc[i]}" for i in bad]
            problems.append(
                f"{column}: {len(bad)} value(s) not {expected} or empty: {listing(cells)}"
            )
    return problems


def duplicate_problems(table: pd.DataFrame) -> list[str]:
    """One line naming every image path listed on more than one row, with its rows."""
    repeated = table["path"].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return []
    rows_by_path: dict[str, list[str]] = {}
    for position in np.flatnonzero(repeated):
        rows_by_path.setdefault(table["path"].iloc[position], []).append(str(csv_row(position)))
    groups = [f"{path} (rows {' '.join(rows)})" for path, rows in rows_by_path.items()]
    return [f"{len(groups)} image path(s) appear on more than one row: {listing(groups)}"]


def image_status(path: Path) -> str:
    """``"ok"``, ``"missing"`` or ``"unreadable"`` for one image file.

    JPEGs decode at 1/8 scale, which reads the whole file at a fraction of the cost of a full
    decode (about 0.06 ms for a 128 px frame).
    """
    if not path.is_file():
        return "missing"
    image = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    return "ok" if image is not None else "unreadable"


def image_problems(paths: Sequence[Path], threads: int | None = None) -> list[str]:
    """One line listing missing images and one listing images that do not decode, by row."""
    threads = threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(image_status, paths, chunksize=64))
    problems = []
    for status, what in (("missing", "do not exist"), ("unreadable", "are not decodable images")):
        rows = [f"row {csv_row(i)} {paths[i]}" for i, s in enumerate(statuses) if s == status]
        if rows:
            problems.append(f"{len(rows)} image file(s) {what}: {listing(rows)}")
    return problems
