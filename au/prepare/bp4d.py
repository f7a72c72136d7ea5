"""BP4D-Spontaneous: 41 subjects x 8 tasks, frame-level AU occurrence (FACS-coded segments).

Release layout read::

    <raw>/AUCoding/AU_OCC/F001_T1.csv      header "0,1,2,...": frame column, then AU numbers;
                                           cells 0 absent, 1 present, 9 not coded
    <raw>/Sequences/F001/T1/2440.jpg       2D texture frames (or "Sequences(2D+3D)/", "2D+3D/";
                                           any zero padding; numbered as the CSV frames, or
                                           from 0000.jpg = CSV frame 1: detected, see
                                           ``detect_frame_offset``)

Only the 12 AUs of the FERA 2015 / JAA-Net protocol are kept (``BP4D_AUS``); 9 becomes an empty
(masked) cell. The release ships no 2D landmarks au relies on, so crops use OpenCV's face
detector (the last detected box is reused when a frame has no detection). ``fold`` is the 3-fold
subject split of JAA-Net / ME-GraphAU (part k -> fold k).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from au.aus import BP4D_AUS
from au.prepare import Part, register_reader
from au.prepare.common import (
    PrepareError,
    centre_box,
    detect_face,
    find_dir,
    log,
    probe_gray,
    read_image,
    select_subjects,
)
from au.prepare.reader_base import (
    BOX_GEOMETRY,
    CropWriter,
    common_options,
    geometry_meta,
    label_table,
    prepare_units,
    subject_folds,
    warn_outside_split,
)

#: The 3-fold subject split of JAA-Net / ME-GraphAU (tool/BP4D_image_label_process.py).
# fmt: off
FOLDS: dict[int, tuple[str, ...]] = {
    1: ("F001", "M007", "F018", "F008", "F002", "M004", "F010", "F009", "M012", "M001", "F016",
        "M014", "F023", "M008"),
    2: ("M011", "F003", "M010", "M002", "F005", "F022", "M018", "M017", "F013", "M016", "F020",
        "F011", "M013", "M005"),
    3: ("F007", "F015", "F006", "F019", "M006", "M009", "F012", "M003", "F004", "F021", "F017",
        "M015", "F014"),
}
# fmt: on
SUBJECT_FOLD = subject_folds(FOLDS)
IMAGE_DIRS = ("Sequences", "Sequences(2D+3D)", "2D+3D")
#: Why BP4D crops are never rotated (the end of the error a ``rotate`` option gets).
NEVER_ROTATED = "they come from face-detector boxes, which carry no eye positions"
_TASK_CSV = re.compile(r"^([FM]\d{3})_(T\d+)\.csv$")


@dataclass(frozen=True)
class Layout:
    """Where the parts of a BP4D release are."""

    labels: Path
    images: Path


def locate(raw: Path) -> Layout:
    """Find the AU occurrence and image folders of a BP4D release under ``raw``."""
    coding = find_dir(raw, ("AUCoding",), "BP4D AUCoding folder")
    labels = find_dir(coding, ("AU_OCC",), "BP4D AU occurrence folder")
    return Layout(labels, find_dir(raw, IMAGE_DIRS, "BP4D image (Sequences) folder"))


def task_files(labels: Path) -> dict[str, list[Path]]:
    """Subject -> its task CSVs, sorted."""
    found: dict[str, list[Path]] = {}
    for path in sorted(labels.glob("*.csv")):
        match = _TASK_CSV.match(path.name)
        if match:
            found.setdefault(match.group(1), []).append(path)
    return found


def read_occurrence(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame numbers (T,) and occurrences (T, 12) in ``BP4D_AUS`` order, NaN where not coded."""
    try:
        table = pd.read_csv(path, header=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PrepareError(f"cannot read BP4D AU file {path}: {err}") from err
    numbers = {}
    for column in table.columns[1:]:
        digits = re.sub(r"\D", "", str(column).split(".")[0])
        if digits:
            numbers[f"AU{int(digits)}"] = column
    missing = [au for au in BP4D_AUS if au not in numbers]
    if missing:
        raise PrepareError(f"{path}: header lacks AU column(s) {missing}; expected AU numbers")
    values = table[[numbers[au] for au in BP4D_AUS]].to_numpy(dtype=np.float64)
    bad = ~np.isin(values, (0, 1, 9))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise PrepareError(
            f"{path}, row {row + 2}, {BP4D_AUS[col]}: value {values[row, col]} is not 0, 1 or 9"
        )
    values[values == 9] = np.nan
    frames = pd.to_numeric(table.iloc[:, 0], errors="coerce").to_numpy()
    if np.isnan(frames).any():
        raise PrepareError(f"{path}: the first column must hold frame numbers")
    return frames.astype(np.int64), values


def frame_images(folder: Path) -> dict[int, Path]:
    """Frame number -> image of one task folder, whatever the zero padding."""
    images = {}
    for path in folder.glob("*.jpg"):
        if path.stem.isdigit():
            images[int(path.stem)] = path
    return images


def csv_frames(path: Path) -> set[int]:
    """The frame numbers of a task CSV (its first column)."""
    return set(read_occurrence(path)[0].tolist())


def detect_frame_offset(layout: Layout, tasks: dict[str, list[Path]]) -> tuple[int | None, str]:
    """The image numbering of the release: ``(offset, how it was judged)``.

    A task folder holding image 0 (``0000.jpg``) for a CSV without frame 0 numbers its images
    from 0, as the BP4D user guide describes, so image = CSV frame - 1 (offset -1); folders
    numbered like their CSVs give offset 0. ``None`` when the folders disagree.
    """
    from_zero, as_csv = [], []
    for subject, csvs in tasks.items():
        for csv in csvs:
            folder = layout.images / subject / _TASK_CSV.match(csv.name).group(2)
            images = frame_images(folder)
            if images:
                zero = 0 in images and 0 not in csv_frames(csv)
                (from_zero if zero else as_csv).append(f"{subject}/{folder.name}")
    if from_zero and as_csv:
        return None, (
            f"{len(from_zero)} task folder(s) number images from 0000.jpg (e.g. {from_zero[0]}) "
            f"but {len(as_csv)} do not (e.g. {as_csv[0]})"
        )
    if from_zero:
        return -1, f"images numbered from 0 (0000.jpg is CSV frame 1) in {len(from_zero)} folders"
    return 0, f"images numbered as the CSV frames in {len(as_csv)} folders"


def resolve_frame_offset(layout: Layout, tasks: dict[str, list[Path]], given: int | None) -> int:
    """``given``, or the offset the release's numbering implies; logs which numbering is used.

    Raises:
        PrepareError: If no offset is given and the task folders disagree on their numbering.
    """
    detected, how = detect_frame_offset(layout, tasks)
    if given is None:
        if detected is None:
            raise PrepareError(
                f"cannot tell the BP4D image numbering under {layout.images}: {how}; pass "
                "--frame-offset -1 (images from 0) or 0 (images numbered as the CSV frames)"
            )
        log.info("BP4D: %s: using --frame-offset %d", how, detected)
        return detected
    log.info("BP4D: using --frame-offset %d as given (image number = CSV frame + offset)", given)
    if detected is not None and detected != given:
        log.warning("BP4D: %s, which implies --frame-offset %d, not %d", how, detected, given)
    return given


def _crop_task(
    subject: str, csv: Path, layout: Layout, crops: CropWriter, offset: int
) -> pd.DataFrame:
    """Crop the coded frames of one task; returns its index rows."""
    task = _TASK_CSV.match(csv.name).group(2)
    frames, values = read_occurrence(csv)
    folder = layout.images / subject / task
    images = frame_images(folder)
    if not images:
        raise PrepareError(f"no frame image for {csv.name}: expected {folder}/<frame>.jpg")
    keep, box = [], None
    for i, frame in enumerate(frames):
        path = images.get(int(frame) + offset)
        if path is None:
            continue
        image = read_image(path)
        box = detect_face(image) or box or centre_box(image)
        crops.write(f"images/{subject}/{task}/{frame:04d}.jpg", crops.from_box(image, box))
        keep.append(i)
    if len(keep) < len(frames):
        log.warning(
            "%s: %d of %d coded frames have no image in %s; skipped them",
            csv.name,
            len(frames) - len(keep),
            len(frames),
            folder,
        )
    kept = frames[keep]
    return label_table(
        values[keep],
        BP4D_AUS,
        path=[f"images/{subject}/{task}/{f:04d}.jpg" for f in kept],
        subject=subject,
        task=task,
        frame=kept,
    )


def _prepare_subject(
    subject: str, layout: Layout, tasks: dict[str, list[Path]], crops: CropWriter, offset: int
) -> Part:
    """Crop and label the coded frames of every task of one subject."""
    tables = [_crop_task(subject, csv, layout, crops, offset) for csv in tasks[subject]]
    table = pd.concat(tables, ignore_index=True)
    table["fold"] = SUBJECT_FOLD.get(subject, 0)
    return crops.part(table)


@register_reader("bp4d", options=("frame_offset",))
def prepare(raw: Path, out: Path, *, frame_offset: int | None = None, **common) -> Path:
    """Prepare BP4D from its release folder ``raw`` into ``out``; returns ``index.csv``.

    ``frame_offset`` is added to a CSV frame number to get its image number; ``None`` reads it
    from the tree (:func:`detect_frame_offset`: -1 where images are numbered from 0000.jpg, as
    the user guide says of ``Sequences(2D+3D)``, else 0). ``common`` are the options every
    reader takes (:class:`~au.prepare.reader_base.CommonOptions`). Crops come from detector
    boxes, which carry no eye positions, so they are never rotated: there is no ``rotate``
    option, and giving one raises :class:`PrepareError`.
    """
    run = common_options("bp4d", common, never_rotated=NEVER_ROTATED)
    layout = locate(raw)
    tasks = task_files(layout.labels)
    subjects = select_subjects(sorted(tasks), run.limit_subjects, layout.labels)
    warn_outside_split(subjects, SUBJECT_FOLD, "BP4D")
    tasks = {s: tasks[s] for s in subjects}
    frame_offset = resolve_frame_offset(layout, tasks, frame_offset)
    gray = probe_gray(next((layout.images / subjects[0]).rglob("*.jpg"), None))
    crops = CropWriter(out, run.crop_size, gray)
    work = functools.partial(
        _prepare_subject, layout=layout, tasks=tasks, crops=crops, offset=frame_offset
    )
    meta = {
        "name": "bp4d",
        "label_type": "occurrence",
        "positive_threshold": 1,
        "aus": list(BP4D_AUS),
        "num_folds": 3,
        "crop_size": run.crop_size,
        "frame_offset": frame_offset,
        "split": "JAA-Net / ME-GraphAU 3-fold subject split; fold k is part k",
        **geometry_meta(BOX_GEOMETRY),
    }
    options = {"crop_size": run.crop_size, "frame_offset": frame_offset}
    return prepare_units(subjects, work, out, run, options=options, meta=meta, desc="BP4D subjects")
