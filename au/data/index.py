"""The index CSV: the one public format every au data set is read from.

A prepared data set is a folder holding ``index.csv`` (one row per face image) and, beside it,
an optional ``index.json`` describing it. The synthetic generator, every ``prepare`` script and
a user's own data all write this format, so all of them train, evaluate and predict the same way.

Columns of ``index.csv``:

* ``path`` (required): the face image, relative to the folder of ``index.csv``; a path outside
  that folder (absolute elsewhere, or ``../``) needs ``allow_outside_root`` (``data.`` key).
* ``subject`` (required): the person; splits never share a subject.
* ``frame`` (optional, int): position in the subject's video; 0 for still images.
* ``AU<n>`` (one per labelled AU, e.g. ``AU1``, ``AU12``): the label. An intensity 0-5 for
  intensity-coded sets (DISFA, synthetic) or 0/1 for occurrence-coded ones (BP4D). An empty cell
  means "not coded" and is masked out of losses and metrics, never read as 0.
* ``fold`` (optional, int from 1): the cross-validation fold of the subject.
* ``emotion`` (optional): the expression label (``neutral``, ``happiness``, ...), empty if none.
* any other column (nuisance factors, session, task) is kept as metadata.

``index.json`` keys (all optional): ``name``, ``label_type`` (``"intensity"`` or
``"occurrence"``), ``positive_threshold`` (a label counts as present when ``value >=
threshold``: 2 for DISFA intensities, 1 for occurrences), ``aus`` (the AU columns, in order),
``channels`` (1 or 3), ``num_folds``, ``crop_geometry`` (what the crops are, e.g. ``{"method":
"template5", "margin": 0.15}``: see :class:`au.alignment.CropGeometry`; a checkpoint trained on
the index keeps it so ``au.predict`` cuts faces the same way).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from au.aus import UnknownAUError, parse_au
from au.data.validation import (
    duplicate_problems,
    image_problems,
    label_problems,
    label_scale_problem,
    outside_root_problems,
)
from au.emotions import parse_emotion
from au.errors import IndexFormatError

INDEX_CSV = "index.csv"
INDEX_JSON = "index.json"
REQUIRED_COLUMNS = ("path", "subject")
_AU_COLUMN = re.compile(r"^AU\d+$")


@dataclass
class AUIndex:
    """A loaded index: its table, the folder images are relative to, and its description."""

    table: pd.DataFrame
    root: Path
    meta: dict = field(default_factory=dict)

    @property
    def au_columns(self) -> list[str]:
        """The AU columns present in the table, in file order."""
        return [c for c in self.table.columns if _AU_COLUMN.match(c)]

    @property
    def positive_threshold(self) -> float:
        """Value at or above which a label counts as present (from ``index.json``, default 1)."""
        return float(self.meta.get("positive_threshold", 1))

    def image_paths(self) -> list[Path]:
        """Absolute image paths, one per row."""
        return [p if p.is_absolute() else self.root / p for p in map(Path, self.table["path"])]

    def labels(
        self, aus: list[str], positive_threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Binary labels and masks for ``aus``.

        Args:
            aus: Canonical AU keys in model order. AUs the index does not label are fully masked.
            positive_threshold: Overrides the index's threshold (e.g. DISFA intensity >= 2).

        Returns:
            ``labels`` (N, A) float32 in {0, 1} and ``mask`` (N, A) float32, 1 where coded.
        """
        threshold = self.positive_threshold if positive_threshold is None else positive_threshold
        values = self.values(aus)  # (N, A), NaN where not coded
        coded = ~np.isnan(values)
        problem = label_scale_problem(values, aus, threshold, self.meta)
        if problem:
            raise IndexFormatError(f"{self.root / INDEX_CSV}: {problem}")
        labels = (coded & (np.nan_to_num(values, nan=-np.inf) >= threshold)).astype(np.float32)
        return labels, coded.astype(np.float32)

    def values(self, aus: list[str]) -> np.ndarray:
        """The raw label values (N, A) of ``aus`` as float64, NaN where not coded or absent."""
        values = np.full((len(self.table), len(aus)), np.nan)
        for j, au in enumerate(aus):
            if au in self.table.columns:
                values[:, j] = pd.to_numeric(self.table[au], errors="coerce")
        return values

    def intensities(self, aus: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Coded intensities (0-5, not thresholded) and masks for ``aus``.

        Raises:
            IndexFormatError: If the index codes occurrence only (``label_type`` of
                ``index.json`` is ``"occurrence"``, or it is unset and every value is 0 or 1).
        """
        values = self.values(aus)
        coded = ~np.isnan(values)
        label_type = self.meta.get("label_type")
        binary = bool(np.isin(values[coded], (0.0, 1.0)).all())
        if label_type == "occurrence" or (label_type is None and binary):
            raise IndexFormatError(
                f"{self.root / INDEX_CSV} codes AU occurrence (0/1), not intensity: intensity "
                "needs an intensity-coded index (DISFA, DISFA+, the synthetic set; index.json "
                "label_type 'intensity')"
            )
        return np.where(coded, values, 0.0).astype(np.float32), coded.astype(np.float32)

    def emotion_labels(self, classes: list[str]) -> np.ndarray:
        """Class index (N,) int64 of each row's ``emotion`` in ``classes``; -1 where unlabelled.

        Empty cells and ``other`` are unlabelled; spellings such as ``happy`` are accepted.

        Raises:
            IndexFormatError: If a row holds an emotion that is not in ``classes`` (rows named).
        """
        if "emotion" not in self.table.columns:
            return np.full(len(self.table), -1, dtype=np.int64)
        position = {name: i for i, name in enumerate(classes)}
        result = np.full(len(self.table), -1, dtype=np.int64)
        unknown: dict[str, list[int]] = {}
        for row, text in enumerate(self.table["emotion"]):
            if pd.isna(text) or str(text).strip().lower() in ("", "other"):
                continue
            try:
                result[row] = position[parse_emotion(text)]
            except (KeyError, ValueError):
                unknown.setdefault(str(text), []).append(row + 2)
        if unknown:
            listed = "; ".join(f"{k!r} in rows {_rows(v)}" for k, v in unknown.items())
            raise IndexFormatError(
                f"{self.root / INDEX_CSV}: emotion labels outside the classes {classes}: "
                f"{listed} (add them to task.emotions, or write 'other' to leave a row unlabelled)"
            )
        return result


def _rows(rows: list[int], shown: int = 5) -> str:
    text = ", ".join(map(str, rows[:shown]))
    return text + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


def _read_meta(folder: Path) -> dict:
    meta_path = folder / INDEX_JSON
    if not meta_path.exists():
        return {}
    try:
        return json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise IndexFormatError(f"{meta_path} is not valid JSON: {err}") from err


def _read_table(csv_path: Path) -> pd.DataFrame:
    """The rows of an index CSV; raises naming the file when it is empty or has no image row."""
    expected = "expected a header line (path,subject,AU1,...) and one row per image"
    try:
        table = pd.read_csv(csv_path, dtype={"subject": str, "path": str}, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise IndexFormatError(f"index CSV {csv_path} is empty: {expected}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise IndexFormatError(f"cannot read index CSV {csv_path}: {err}") from err
    if table.empty:
        raise IndexFormatError(f"index CSV {csv_path} has a header but no image row: {expected}")
    return table


def read_index(
    path: str | Path, check_images: bool = False, allow_outside_root: bool = False
) -> AUIndex:
    """Read and validate an index CSV (or the folder that holds ``index.csv``).

    AU values must be numbers on the data set's scale (``label_type`` of ``index.json``) or
    empty, no image may appear twice (however its path is spelt: ``./a.jpg`` is ``a.jpg``), and
    every image must lie inside the index's folder unless ``allow_outside_root``. With
    ``check_images`` every image must exist, run to its end (a JPEG or PNG cut short is named)
    and decode. All problems are reported together, one line each, naming the CSV rows.

    Args:
        path: ``index.csv`` or its folder.
        check_images: Also open every image (about 0.1 ms each).
        allow_outside_root: Accept absolute paths elsewhere and ``../`` paths
            (``data.allow_outside_root``).

    Raises:
        IndexFormatError: If the file is missing, empty, unreadable, has no image row, lacks a
            required column, has neither an AU column nor an ``emotion`` column (an
            emotion-only set such as FER-2013 has every AU masked), names an AU column that is
            not a FACS AU, or (all listed at once) holds AU values off the scale, repeated
            images, images outside its folder (unless ``allow_outside_root``), or, with
            ``check_images``, images that are missing, cut short or do not decode.
    """
    path = Path(path).expanduser()
    csv_path = path / INDEX_CSV if path.is_dir() else path
    if not csv_path.exists():
        raise IndexFormatError(
            f"index CSV not found: {csv_path} (prepare the data set first, or point "
            "data.index_csv / data.root at an existing one)"
        )
    table = _read_table(csv_path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise IndexFormatError(
            f"{csv_path} lacks required column(s) {missing}; see au/data/index.py"
        )
    au_columns = [c for c in table.columns if _AU_COLUMN.match(c)]
    if not au_columns and "emotion" not in table.columns:
        raise IndexFormatError(
            f"{csv_path} has no AU column (expected columns like AU1, AU12) and no emotion column"
        )
    for column in au_columns:
        try:
            parse_au(column)
        except UnknownAUError as err:
            raise IndexFormatError(f"{csv_path}: column {column!r}: {err}") from err
    if table["path"].isna().any() or table["subject"].isna().any():
        row = int(np.flatnonzero(table["path"].isna() | table["subject"].isna())[0])
        raise IndexFormatError(f"{csv_path}: row {row + 2} has an empty path or subject")
    index = AUIndex(table=table, root=csv_path.parent, meta=_read_meta(csv_path.parent))
    problems = label_problems(table, au_columns, index.meta)
    problems += duplicate_problems(table, index.root)
    if not allow_outside_root:
        problems += outside_root_problems(table, index.root)
    if check_images:
        problems += image_problems(index.image_paths())
    if problems:
        raise IndexFormatError("\n".join(f"{csv_path}: {problem}" for problem in problems))
    return index


def write_index(table: pd.DataFrame, folder: str | Path, meta: dict | None = None) -> Path:
    """Write ``index.csv`` (and ``index.json`` when ``meta`` is given) atomically into ``folder``.

    Returns:
        The path of the written ``index.csv``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise IndexFormatError(f"cannot write an index without column(s) {missing}")
    csv_path = folder / INDEX_CSV
    tmp = csv_path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    if meta is not None:
        json_tmp = folder / (INDEX_JSON + ".tmp")
        json_tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
        json_tmp.replace(folder / INDEX_JSON)
    tmp.replace(csv_path)
    return csv_path
