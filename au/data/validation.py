"""Checks of an index before any work: label values, duplicate rows, paths, image files.

Every check returns problem lines instead of raising, so one error can list every problem of an
index at once (each kind on its own line, naming the CSV rows). Rows are the CSV's line numbers
(the header is line 1, the first image row line 2).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from au.data.dataset import ImageReadError, TruncatedImageError, decode_image, printable_path

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


def label_scale_problem(
    values: np.ndarray, aus: Sequence[str], threshold: float, meta: dict
) -> str | None:
    """A line explaining a label scale that leaves AUs without any positive, else ``None``.

    Args:
        values: Raw labels (N, A) of ``aus``, NaN where not coded.
        aus: The AU columns of ``values``.
        threshold: A label counts as present when ``value >= threshold``.
        meta: The index's ``index.json`` (its ``label_type``).

    An AU with non-zero labels none of which reaches ``threshold`` (or coded AUs none of which
    has a positive at all) means the scale and the threshold disagree, e.g. 0/1 labels under
    ``label_type`` intensity with threshold 2 would all become negatives.
    """
    coded = ~np.isnan(values)
    columns = [j for j in range(len(aus)) if coded[:, j].any()]
    if not columns:
        return None
    top = {aus[j]: float(np.nanmax(values[:, j])) for j in columns}
    silent = [au for au, high in top.items() if 0 < high < threshold]
    if not silent and any(high >= threshold for high in top.values()):
        return None
    if max(top.values()) == 1 and meta.get("label_type") != "occurrence":
        return (
            f"every AU label is 0 or 1 but a label counts as present only from {threshold:g} "
            f"(label_type {meta.get('label_type', 'unset')!r}), so no row is positive: this looks "
            "like 0/1 occurrence labels; set label_type 'occurrence' and positive_threshold 1 "
            "in index.json"
        )
    if not silent:
        return f"no row has a positive label for any of the AUs {list(top)}: nothing to learn"
    highs = ", ".join(f"{au} (max {top[au]:g})" for au in silent)
    return (
        f"{len(silent)} AU(s) have non-zero labels none of which reaches the positive threshold "
        f"{threshold:g}, so they have no positive example: {highs}; set positive_threshold "
        "(index.json or data.positive_threshold) to the labels' scale, or leave the AU out of "
        "data.aus"
    )


def normalised_path(text: str, root: Path | None = None) -> str:
    """An index path in one spelling, for comparing paths.

    ``./a.jpg``, ``a//b.jpg`` and ``x/../a.jpg`` are collapsed; an absolute path under ``root``
    is made relative to it.
    """
    path = posixpath.normpath(str(text))
    if root is not None and posixpath.isabs(path):
        base = posixpath.normpath(Path(os.path.abspath(root)).as_posix())
        if path.startswith(base + "/"):
            return path[len(base) + 1 :]
    return path


def duplicate_problems(table: pd.DataFrame, root: Path | None = None) -> list[str]:
    """One line naming every image listed on more than one row, whatever the spelling, with rows.

    Paths are compared after :func:`normalised_path` (``images/a.jpg``, ``./images/a.jpg`` and
    ``images//a.jpg`` are one image).
    """
    paths = pd.Series([normalised_path(p, root) for p in table["path"]])
    repeated = paths.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return []
    rows_by_path: dict[str, list[str]] = {}
    for position in np.flatnonzero(repeated):
        rows_by_path.setdefault(paths.iloc[position], []).append(str(csv_row(position)))
    groups = [f"{path} (rows {' '.join(rows)})" for path, rows in rows_by_path.items()]
    return [f"{len(groups)} image path(s) appear on more than one row: {listing(groups)}"]


def outside_root_problems(table: pd.DataFrame, root: Path) -> list[str]:
    """One line naming the rows whose image lies outside ``root`` (absolute elsewhere, ``../``).

    The check is on the spelling (symbolic links inside ``root`` are followed as usual).
    """
    outside = [
        f"row {csv_row(i)} {text}"
        for i, text in enumerate(table["path"])
        if normalised_path(text, root).startswith(("/", "../")) or normalised_path(text) == ".."
    ]
    if not outside:
        return []
    return [
        f"{len(outside)} image path(s) point outside the index folder {root} (set "
        f"data.allow_outside_root=true if that is meant): {listing(outside)}"
    ]


def image_status(path: Path) -> str:
    """``"ok"``, ``"missing"``, ``"truncated"`` or ``"unreadable"`` for one image file.

    A JPEG or PNG must run to its end marker (a file cut short otherwise decodes to grey);
    JPEGs then decode at 1/8 scale, at a fraction of the cost of a full decode.
    """
    if not path.is_file():
        return "missing"
    try:
        decode_image(path, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except TruncatedImageError:
        return "truncated"
    except ImageReadError:
        return "unreadable"
    return "ok"


#: Each image status that is a problem, and how its problem line says it.
STATUS_PROBLEMS = (
    ("missing", "do not exist"),
    ("truncated", "are cut short (truncated JPEG/PNG)"),
    ("unreadable", "are not decodable images"),
)


def image_problems(paths: Sequence[Path], threads: int | None = None) -> list[str]:
    """One line each listing missing, truncated and undecodable images, by row."""
    threads = threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(image_status, paths, chunksize=64))
    problems = []
    for status, what in STATUS_PROBLEMS:
        rows = [
            f"row {csv_row(i)} {printable_path(paths[i])}"
            for i, s in enumerate(statuses)
            if s == status
        ]
        if rows:
            problems.append(f"{len(rows)} image file(s) {what}: {listing(rows)}")
    return problems
