"""DISFA+: posed and spontaneous trials of 9 DISFA subjects, AU intensities 0-5 per image.

Release layout read (a subject folder may be nested once more, ``Labels/SN001/SN001/...``)::

    <raw>/Images/SN001/A1_AU1_TrailNo_1/000.jpg
    <raw>/Labels/SN001/A1_AU1_TrailNo_1/AU1.txt     2 header lines, then "000.jpg     <0-5>"
    <raw>/FaceLandmarks/SN001/A1_AU1_TrailNo_1_FaceCropped.mat   (or FaceLandmarks/landmarks/)
        FaceImg_CropResize: cell of structs {imgID, ImgCropped (RGB), LndPntCropped (49 x 2)}

Crops come from the released face crop and its 49 landmarks (same coordinates): by default
their 5 template points (eye centres, nose tip 13, mouth corners 31 and 37) mapped onto the
ArcFace template (``template5``, as ``au.predict`` cuts MTCNN faces), or the square around all
49 (``--crop-geometry eyes``, ``box``). An image without an entry in the ``.mat`` is read from
``Images/`` and located with OpenCV's face detector (an upright ``box`` crop).
DISFA+ subjects are DISFA subjects: ``fold`` follows the DISFA 3-fold split so the two can be
combined without leakage, and a warning names the overlap.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import scipy.io

from au.aus import DISFA_AUS
from au.prepare import Part, register_reader
from au.prepare.common import (
    PrepareError,
    centre_box,
    detect_face,
    find_dir,
    log,
    parse_intensity,
    probe_gray,
    read_image,
    require_file,
    select_subjects,
)
from au.prepare.disfa import SUBJECT_FOLD
from au.prepare.reader_base import (
    BOX_GEOMETRY,
    CropWriter,
    common_options,
    folds_in_turn,
    geometry_meta,
    label_table,
    landmark_geometry,
    prepare_units,
)

_SUBJECT = re.compile(r"^SN\d{3}$")
_LABEL_LINE = re.compile(r"^\s*(\S+\.(?:jpg|png|bmp))\s+(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Layout:
    """Where the parts of a DISFA+ release are."""

    labels: Path
    images: Path | None
    landmarks: Path | None


def _optional_dir(raw: Path, *names: str) -> Path | None:
    try:
        return find_dir(raw, names, names[0])
    except PrepareError:
        return None


def locate(raw: Path) -> Layout:
    """Find the label, image and landmark folders of a DISFA+ release under ``raw``."""
    labels = find_dir(raw, ("Labels",), "DISFA+ label folder")
    landmarks = _optional_dir(raw, "FaceLandmarks/landmarks", "FaceLandmarks")
    layout = Layout(labels, _optional_dir(raw, "Images"), landmarks)
    if layout.images is None and layout.landmarks is None:
        raise PrepareError(
            f"DISFA+ images not found under {raw}: expected Images/ or FaceLandmarks/"
        )
    return layout


def subject_dir(base: Path, subject: str) -> Path:
    """``base/SN001``, or ``base/SN001/SN001`` where the archive nests it."""
    nested = base / subject / subject
    return nested if nested.is_dir() else base / subject


def read_trial(trial: Path) -> tuple[list[str], np.ndarray]:
    """Image names of one trial and their intensities (T, 12) in ``DISFA_AUS`` order."""
    names: list[str] | None = None
    columns = []
    for au in DISFA_AUS:
        path = require_file(trial / f"{au}.txt", f"DISFA+ {au} label file")
        values = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = _LABEL_LINE.match(line)
            if match:
                values[match.group(1)] = parse_intensity(match.group(2), path, number)
        if not values:
            raise PrepareError(f"{path} has no '<image> <intensity>' line")
        if names is None:
            names = sorted(values, key=lambda n: (int(re.sub(r"\D", "", n) or 0), n))
        elif set(values) != set(names):
            raise PrepareError(f"{path} labels other images than {trial / 'AU1.txt'}")
        columns.append([values[n] for n in names])
    return names, np.array(columns, dtype=np.int64).T


def load_face_crops(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Map each imgID of a ``*_FaceCropped.mat`` to (BGR face crop, 49 landmarks); {} if absent."""
    if not path.is_file():
        return {}
    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
        entries = np.atleast_1d(mat["FaceImg_CropResize"])
        crops = {}
        for entry in entries:
            image = np.ascontiguousarray(np.asarray(entry.ImgCropped, dtype=np.uint8))
            if image.ndim == 3:
                image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            crops[str(entry.imgID).strip()] = (image, np.asarray(entry.LndPntCropped, float))
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as err:
        raise PrepareError(
            f"cannot read {path}: expected FaceImg_CropResize with imgID, ImgCropped and "
            f"LndPntCropped ({getattr(err, 'strerror', None) or err})"
        ) from err
    return crops


def _face(name: str, faces: dict, image_dir: Path | None, crops: CropWriter) -> np.ndarray:
    """The crop of one image: from the released face crop, else from ``Images/`` + detector."""
    if name in faces:
        image, points = faces[name]
        return crops.from_points(image, points)
    if image_dir is None:
        raise PrepareError(f"no face crop for {name} in FaceLandmarks/ and no Images/ folder")
    image = read_image(image_dir / name)
    return crops.from_box(image, detect_face(image) or centre_box(image))


def _prepare_trial(subject: str, trial: Path, layout: Layout, crops: CropWriter) -> pd.DataFrame:
    """Crop and label every image of one trial; returns its index rows."""
    names, intensities = read_trial(trial)
    faces = {}
    if layout.landmarks is not None:
        mat = subject_dir(layout.landmarks, subject) / f"{trial.name}_FaceCropped.mat"
        faces = load_face_crops(mat)
    images = subject_dir(layout.images, subject) / trial.name if layout.images else None
    frames = [int(re.sub(r"\D", "", n) or 0) for n in names]
    paths = [f"images/{subject}/{trial.name}/{f:03d}.jpg" for f in frames]
    for name, rel in zip(names, paths, strict=True):
        crops.write(rel, _face(name, faces, images, crops))
    return label_table(
        intensities, DISFA_AUS, path=paths, subject=subject, trial=trial.name, frame=frames
    )


def _prepare_subject(subject: str, layout: Layout, crops: CropWriter, folds: dict) -> Part:
    """Crop and label every image of every trial of one subject."""
    labels = subject_dir(layout.labels, subject)
    trials = sorted(p for p in labels.iterdir() if p.is_dir())
    if not trials:
        raise PrepareError(f"no trial folder with AU label files in {labels}")
    tables = [_prepare_trial(subject, trial, layout, crops) for trial in trials]
    table = pd.concat(tables, ignore_index=True)
    table["fold"] = folds[subject]
    return crops.part(table)


def _folds(subjects: list[str]) -> dict[str, int]:
    """The DISFA fold of each subject; subjects outside DISFA get folds 1, 2, 3 in turn."""
    others = [s for s in subjects if s not in SUBJECT_FOLD]
    in_turn = folds_in_turn(others, others)
    return {s: SUBJECT_FOLD.get(s) or in_turn[s] for s in subjects}


@register_reader("disfa_plus")
def prepare(
    raw: Path, out: Path, *, crop_geometry: str | None = None, rotate: bool = True, **common
) -> Path:
    """Prepare DISFA+ from its release folder ``raw`` into ``out``; returns ``index.csv``.

    ``crop_geometry`` and ``rotate`` say how crops are cut from the released face crops and
    landmarks (:func:`~au.prepare.reader_base.landmark_geometry`); an image without them is
    cut from a detector box, never rotated. ``common`` are the options every reader takes
    (:class:`~au.prepare.reader_base.CommonOptions`).
    """
    run = common_options("disfa_plus", common)
    geometry = landmark_geometry(crop_geometry, rotate, landmarks=49)
    layout = locate(raw)
    found = sorted(p.name for p in layout.labels.iterdir() if _SUBJECT.match(p.name))
    subjects = select_subjects(found, run.limit_subjects, layout.labels)
    overlap = [s for s in subjects if s in SUBJECT_FOLD]
    if overlap:
        log.warning(
            "DISFA+ subjects %s are also DISFA subjects (the same people): combining DISFA+ with "
            "DISFA leaks identities across splits unless both use the shared 'fold' column",
            ", ".join(overlap),
        )
    first = next(layout.images.rglob("*.jpg"), None) if layout.images else None
    crops = CropWriter(out, run.crop_size, probe_gray(first), geometry)
    work = functools.partial(_prepare_subject, layout=layout, crops=crops, folds=_folds(subjects))
    meta = {
        "name": "disfa_plus",
        "label_type": "intensity",
        "positive_threshold": 2,
        "aus": list(DISFA_AUS),
        "num_folds": 3,
        "crop_size": run.crop_size,
        "overlaps_disfa": overlap,
        "split": "each subject keeps its DISFA fold (JAA-Net / ME-GraphAU 3-fold split)",
        **geometry_meta(geometry, BOX_GEOMETRY),
    }
    options = {"crop_size": run.crop_size, **geometry_meta(geometry)}
    return prepare_units(
        subjects, work, out, run, options=options, meta=meta, desc="DISFA+ subjects"
    )
