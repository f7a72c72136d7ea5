"""FER-2013: 35,887 in-the-wild 48x48 grayscale faces labelled with one of 7 emotions.

The CSV release is read here (``python -m au.prepare fer2013-csv --raw fer2013.csv``), the image
release with one folder per class in :mod:`au.prepare.fer2013_folder` (``fer2013-folder``)::

    fer2013.csv    header "emotion,pixels,Usage"; emotion 0-6 (Angry, Disgust, Fear, Happy, Sad,
                   Surprise, Neutral), pixels 2304 space-separated 0-255 values, Usage Training /
                   PublicTest / PrivateTest

The index has an ``emotion`` column and a ``split`` partition column: Usage Training / PublicTest /
PrivateTest -> train / val / test; in the folder release test/ is test and val is carved from
train/, per class, by ``split_seed`` (``val_fraction`` of each class). FER-2013 has no subject ids
and no AU labels: ``subject`` is the image's own id, so **the split is not subject-independent**
(a person may appear in train and test; ``index.json`` says so), and every AU is masked.
Train with ``data=fer2013`` (``data.fold=null`` reads the ``split`` column).
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from au.prepare import Part, register_reader
from au.prepare.common import PrepareError, encode_to_file, require_file
from au.prepare.reader_base import CommonOptions, common_options, prepare_units

#: FER-2013 emotion codes 0-6 (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral).
FER2013_EMOTIONS: tuple[str, ...] = (
    "anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral",
)  # fmt: skip
USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SIDE = 48
#: CSV rows per unit of work (a resumable shard).
SHARD_ROWS = 4000
#: Why FER-2013 faces are never rotated (the end of the error a ``rotate`` option gets).
NEVER_ROTATED = "its faces are released as aligned crops without landmarks"
NOT_SUBJECT_INDEPENDENT = (
    "FER-2013 has no subject ids: subject is each image's own id and the split comes from the "
    "release's partition, so it is NOT subject-independent (a person may be in train and test)"
)


def read_fer2013_csv(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Read FER-2013's CSV: images uint8 ``(N, 48, 48)``, canonical emotions, splits.

    Column names are stripped of spaces. Raises :class:`PrepareError` naming the file, row and
    what was expected on a missing column, an unknown emotion code or Usage, or a bad pixels row.
    """
    require_file(path, "FER-2013 CSV")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise PrepareError(
            f"{path} is empty: expected FER-2013's CSV (header emotion,pixels,Usage, one row "
            "per face)"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise PrepareError(f"cannot read FER-2013 CSV {path}: {err}") from err
    frame.columns = frame.columns.str.strip()
    missing = [c for c in ("emotion", "pixels", "Usage") if c not in frame.columns]
    if missing:
        raise PrepareError(
            f"{path} lacks column(s) {missing}; FER-2013 has emotion,pixels,Usage "
            f"but this file has {list(frame.columns)}"
        )
    codes = [_fer_code(text, i, path) for i, text in enumerate(frame["emotion"])]
    images = [_fer_pixels(text, i, path) for i, text in enumerate(frame["pixels"])]
    splits = [_fer_split(text, i, path) for i, text in enumerate(frame["Usage"])]
    if not images:
        raise PrepareError(f"{path} has a header but no image row")
    emotions = [FER2013_EMOTIONS[c] for c in codes]
    return np.stack(images).reshape(-1, SIDE, SIDE), emotions, splits


def _where(path: Path, row: int) -> str:
    return f"{path} row {row + 1} (line {row + 2})"


def _fer_code(text: str, row: int, path: Path) -> int:
    if text.strip() in {str(c) for c in range(7)}:
        return int(text)
    raise PrepareError(
        f"{_where(path, row)}: emotion {text!r} is not a code 0-6 "
        "(0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral)"
    )


def _fer_split(text: str, row: int, path: Path) -> str:
    if text.strip() in USAGE_SPLITS:
        return USAGE_SPLITS[text.strip()]
    raise PrepareError(f"{_where(path, row)}: Usage {text!r} is not one of {list(USAGE_SPLITS)}")


def _fer_pixels(text: str, row: int, path: Path) -> np.ndarray:
    tokens = text.split()
    if len(tokens) != SIDE * SIDE:
        raise PrepareError(
            f"{_where(path, row)}: pixels has {len(tokens)} values; expected 2304 (48x48)"
        )
    try:
        values = np.array(tokens, dtype=np.int64)  # (2304,)
    except ValueError:
        raise PrepareError(
            f"{_where(path, row)}: pixels must be 2304 integers 0-255, got {text[:40]!r}..."
        ) from None
    if values.min() < 0 or values.max() > 255:
        raise PrepareError(
            f"{_where(path, row)}: pixel values must lie in 0-255, "
            f"found {values.min()}..{values.max()}"
        )
    return values.astype(np.uint8)


def resized(image: np.ndarray, crop_size: int | None) -> np.ndarray:
    """``image`` resized to ``crop_size`` squared, or as it is when ``crop_size`` is None."""
    if crop_size is None or image.shape[:2] == (crop_size, crop_size):
        return image
    return cv2.resize(image, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)


def index_rows(paths: list[str], emotions: list[str], splits: list[str]) -> pd.DataFrame:
    """Index rows; ``subject`` is the image's own id (its path without ``images/`` and suffix)."""
    subjects = [Path(p).with_suffix("").as_posix().removeprefix("images/") for p in paths]
    return pd.DataFrame({"path": paths, "subject": subjects, "emotion": emotions, "split": splits})


@functools.lru_cache(maxsize=1)
def _cached_csv(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    return read_fer2013_csv(path)


def _prepare_csv_shard(unit: str, csv_path: Path, out: Path, crop_size: int | None) -> Part:
    images, emotions, splits = _cached_csv(csv_path)
    first = int(unit.removeprefix("rows_").split("-")[0])
    rows = range(first, min(first + SHARD_ROWS, len(images)))
    paths = [f"images/{splits[i]}/{i:05d}.png" for i in rows]
    for i, rel in zip(rows, paths, strict=True):
        write_png(out / rel, resized(images[i], crop_size))
    table = index_rows(paths, [emotions[i] for i in rows], [splits[i] for i in rows])
    table["usage_row"] = list(rows)
    return Part(table, 1)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an image losslessly as PNG, creating its folder."""
    encode_to_file(path, image, ".png")


def index_meta(release: str, crop_size: int | None, split: str) -> dict:
    """``index.json`` of a FER-2013 release: no AU, 7 emotions, a split that is not by subject."""
    return {
        "name": "fer2013",
        "release": release,
        "label_type": "occurrence",
        "positive_threshold": 1,
        "aus": [],
        "emotions": list(FER2013_EMOTIONS),
        "crop_size": crop_size or SIDE,
        "crop_geometry": {"method": "released"},
        "split": split,
        "subject_independent": False,
        "note": NOT_SUBJECT_INDEPENDENT,
    }


def fer2013_options(reader: str, common: dict) -> CommonOptions:
    """The options every reader takes, as FER-2013 can honour them (its own 48x48 by default).

    Raises:
        PrepareError: On ``rotate``, ``limit_subjects`` (no subject ids) or a crop under 8.
    """
    run = common_options(reader, common, crop_size=None, never_rotated=NEVER_ROTATED)
    check_options(run.crop_size, run.limit_subjects)
    return run


def check_options(crop_size: int | None, limit_subjects: list[str] | None) -> None:
    """Raise on options that FER-2013 cannot honour."""
    if limit_subjects:
        raise PrepareError("--limit-subjects does not apply to FER-2013: it has no subject ids")
    if crop_size is not None and crop_size < 8:
        raise PrepareError(f"--crop-size must be at least 8, got {crop_size}")


@register_reader("fer2013-csv", out_name="fer2013", native_size=True)
def prepare_csv(raw: Path, out: Path, **common) -> Path:
    """Prepare FER-2013 from its CSV ``raw`` into ``out``; returns ``index.csv``.

    Faces are written as PNG (lossless), at 48x48 or resized to ``crop_size`` (``common`` are
    the options every reader takes, :class:`~au.prepare.reader_base.CommonOptions`, except
    ``limit_subjects``). They are released as aligned crops without landmarks, so nothing is
    rotated: there is no ``rotate`` option, and giving one raises :class:`PrepareError`.
    """
    run = fer2013_options("fer2013-csv", common)
    csv_path = raw / "fer2013.csv" if raw.is_dir() else raw
    _cached_csv.cache_clear()
    images, _, _ = _cached_csv(csv_path)
    units = [
        f"rows_{i}-{min(i + SHARD_ROWS, len(images)) - 1}"
        for i in range(0, len(images), SHARD_ROWS)
    ]
    work = functools.partial(
        _prepare_csv_shard, csv_path=csv_path, out=out, crop_size=run.crop_size
    )
    options = {"crop_size": run.crop_size, "source": str(csv_path)}
    split = "partition column 'split' from Usage: Training/PublicTest/PrivateTest -> train/val/test"
    meta = index_meta("csv", run.crop_size, split)
    return prepare_units(units, work, out, run, options=options, meta=meta, desc="fer2013")
