"""DISFA: stereo videos of 27 subjects, AU intensities 0-5 for 12 AUs on every frame.

Release layout read (folder and file-name variants of the distributed archives accepted)::

    <raw>/ActionUnit_Labels/SN001/SN001_au1.txt      lines "frame,intensity", line t <-> frame t
    <raw>/Videos_LeftCamera/LeftVideoSN001_comp.avi (or Video_LeftCamera/, LeftVideoSN001.avi)
    <raw>/Videos_RightCamera/RightVideoSN001_comp.avi
    <raw>/Landmark_Points/SN001/tmp_frame_lm/SN001_0000_lm.mat   (or frame_lm/, l0NNNN_lm.mat)

Crops come from the released 66-point landmarks (``pts``, x/y columns, tracked on the left
video): by default their 5 template points (eye centres, nose tip 30, mouth corners 48 and 54)
mapped onto the ArcFace template (``template5``, as ``au.predict`` cuts MTCNN faces); the
square around all 66 with the eyes levelled (``--crop-geometry eyes``) or upright (``box``,
``--no-rotate``) on request. The right camera has no released landmarks: its crops use OpenCV's
face detector and are never rotated (``--no-rotate`` or ``--crop-geometry`` with ``--camera
right`` alone is refused).
Folds are the 3-fold subject split of JAA-Net / ME-GraphAU (``fold`` k = part k).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

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
    iter_video,
    log,
    parse_intensity,
    probe_gray,
    require_file,
    select_subjects,
)
from au.prepare.reader_base import (
    BOX_GEOMETRY,
    CropWriter,
    common_options,
    geometry_meta,
    label_table,
    landmark_geometry,
    prepare_units,
    subject_folds,
    warn_outside_split,
)

#: The standard subject-independent 3-fold split (JAA-Net, ME-GraphAU tool/DISFA_*.py).
FOLDS: dict[int, tuple[str, ...]] = {
    1: ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
    2: ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
    3: ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"),
}
SUBJECT_FOLD = subject_folds(FOLDS)
VIDEO_DIRS = {
    "left": ("Videos_LeftCamera", "Video_LeftCamera"),
    "right": ("Videos_RightCamera", "Video_RightCamera"),
}
_SUBJECT = re.compile(r"^SN\d{3}$")
_LANDMARK_FILE = re.compile(r"(\d+)_lm\.mat$")


@dataclass(frozen=True)
class Layout:
    """Where the parts of a DISFA release are."""

    labels: Path
    videos: dict[str, Path]
    landmarks: Path | None


def locate(raw: Path, cameras: tuple[str, ...]) -> Layout:
    """Find the label, video and landmark folders of a DISFA release under ``raw``."""
    labels = find_dir(raw, ("ActionUnit_Labels",), "DISFA label folder")
    videos = {c: find_dir(raw, VIDEO_DIRS[c], f"DISFA {c}-camera video folder") for c in cameras}
    landmarks = (
        find_dir(raw, ("Landmark_Points",), "DISFA landmark folder")
        if ("left" in cameras)
        else None
    )
    return Layout(labels, videos, landmarks)


def find_subjects(labels: Path) -> list[str]:
    """Subjects with a label folder (or flat label files) in the release."""
    names = {p.name for p in labels.iterdir() if p.is_dir() and _SUBJECT.match(p.name)}
    names |= {p.name.split("_")[0] for p in labels.glob("SN???_au*.txt")}
    return sorted(names)


def label_file(labels: Path, subject: str, au: str) -> Path:
    """The label file of ``au`` for ``subject`` (nested or flat layout)."""
    name = f"{subject}_au{au[2:]}.txt"
    nested = labels / subject / name
    return nested if nested.exists() or not (labels / name).exists() else labels / name


def read_labels(labels: Path, subject: str) -> tuple[np.ndarray, Path]:
    """Intensities (T, 12) in ``DISFA_AUS`` order, and the AU1 file (to name in errors)."""
    columns = []
    for au in DISFA_AUS:
        path = require_file(label_file(labels, subject, au), f"DISFA {au} label file")
        lines = [(i, ln) for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.strip()]
        values = []
        for number, line in lines:
            fields = line.replace(";", ",").split(",")
            if len(fields) < 2:
                raise PrepareError(f"{path}, line {number}: expected 'frame,intensity'")
            values.append(parse_intensity(fields[1].strip(), path, number))
        if columns and len(values) != len(columns[0]):
            raise PrepareError(
                f"{path} has {len(values)} label lines but {label_file(labels, subject, 'AU1')} "
                f"has {len(columns[0])}: every AU file of a subject must cover the same frames"
            )
        columns.append(values)
    return np.array(columns, dtype=np.int64).T, label_file(labels, subject, "AU1")


def video_file(folder: Path, camera: str, subject: str) -> Path:
    """The video of ``subject`` for ``camera`` (``_comp`` or plain name), or raise naming it."""
    prefix = "LeftVideo" if camera == "left" else "RightVideo"
    candidates = [folder / f"{prefix}{subject}_comp.avi", folder / f"{prefix}{subject}.avi"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise PrepareError(
        f"DISFA {camera}-camera video of {subject} not found: expected {candidates[0]}"
    )


def landmark_files(landmarks: Path, subject: str) -> dict[int, Path]:
    """Frame index (0-based) -> landmark ``.mat`` file, for any of the released folder layouts."""
    folder = landmarks / subject
    files = sorted(folder.rglob("*_lm.mat")) if folder.is_dir() else []
    numbered = {int(m.group(1)): p for p in files if (m := _LANDMARK_FILE.search(p.name))}
    if not numbered:
        raise PrepareError(
            f"no DISFA landmark file for {subject}: expected {folder}/tmp_frame_lm/*_lm.mat"
        )
    base = min(numbered) if min(numbered) in (0, 1) else 0
    return {number - base: path for number, path in numbered.items()}


def load_landmarks(path: Path) -> np.ndarray:
    """The (N, 2) x/y points of one released ``.mat`` landmark file."""
    try:
        points = np.asarray(scipy.io.loadmat(str(path))["pts"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PrepareError(
            f"cannot read landmarks {path}: expected a .mat file with 'pts' "
            f"({getattr(err, 'strerror', None) or err})"
        ) from err
    if points.ndim == 2 and points.shape[0] == 2 and points.shape[1] > 2:
        points = points.T
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise PrepareError(f"landmarks in {path} have shape {points.shape}, expected (66, 2)")
    return points


class _FaceLocator:
    """Where the face of each frame is: released landmarks, or the detector where there are none."""

    def __init__(self, files: dict[int, Path] | None) -> None:
        self.files = files
        self.last: np.ndarray | None = None
        self.last_box: tuple[int, int, int, int] | None = None
        self.missing = 0

    def points(self, frame: int) -> np.ndarray:
        """The landmarks of ``frame`` (the nearest earlier ones if its file is missing)."""
        path = self.files.get(frame)
        if path is None:
            self.missing += 1
            if self.last is None:
                path = self.files[min(self.files, key=lambda k: abs(k - frame))]
        if path is not None:
            self.last = load_landmarks(path)
        return self.last

    def box(self, image: np.ndarray) -> tuple[int, int, int, int]:
        """The detected face box (the last one found, else the centred square)."""
        self.last_box = detect_face(image) or self.last_box
        return self.last_box or centre_box(image)

    def crop(self, frame: int, image: np.ndarray, crops: CropWriter) -> np.ndarray:
        """The crop of ``frame``: from its landmarks, or from a detector box without them."""
        if self.files is None:
            return crops.from_box(image, self.box(image))
        return crops.from_points(image, self.points(frame))


def _crop_video(
    subject: str, camera: str, layout: Layout, n_labels: int, crops: CropWriter
) -> tuple[int, Path]:
    """Write the crops of one video; returns (frames in the video, video path)."""
    video = video_file(layout.videos[camera], camera, subject)
    files = landmark_files(layout.landmarks, subject) if camera == "left" else None
    locator = _FaceLocator(files)
    count = 0
    for frame, image in enumerate(iter_video(video)):
        count += 1
        if frame < n_labels:
            crop = locator.crop(frame, image, crops)
            crops.write(f"images/{subject}/{camera}/{frame:05d}.jpg", crop)
    if locator.missing:
        log.warning(
            "%s: %d frames have no landmark file; used the nearest earlier frame's",
            subject,
            locator.missing,
        )
    return count, video


def _check_counts(frames: int, labels: int, video: Path, label_path: Path) -> int:
    """Frames usable: equal counts, or a difference of 1 at the end (warned); else raise."""
    if frames == labels:
        return frames
    if abs(frames - labels) == 1:
        log.warning(
            "%s has %d frames but %s has %d label lines: dropping the extra one at the end",
            video,
            frames,
            label_path,
            labels,
        )
        return min(frames, labels)
    raise PrepareError(
        f"{video} has {frames} frames but {label_path} has {labels} label lines: expected equal "
        "counts (a difference of 1 at the end is tolerated); is the video truncated?"
    )


def _prepare_subject(subject: str, layout: Layout, crops: CropWriter) -> Part:
    """Crop and label every frame of one subject, for each requested camera."""
    intensities, label_path = read_labels(layout.labels, subject)
    tables = []
    for camera in layout.videos:
        frames, video = _crop_video(subject, camera, layout, len(intensities), crops)
        usable = _check_counts(frames, len(intensities), video, label_path)
        table = label_table(
            intensities[:usable],
            DISFA_AUS,
            path=[f"images/{subject}/{camera}/{t:05d}.jpg" for t in range(usable)],
            subject=subject,
            camera=camera,
            frame=np.arange(usable),
        )
        table["fold"] = SUBJECT_FOLD.get(subject, 0)
        tables.append(table)
    return crops.part(pd.concat(tables, ignore_index=True))


@register_reader("disfa", options=("camera",))
def prepare(
    raw: Path,
    out: Path,
    *,
    camera: str = "left",
    crop_geometry: str | None = None,
    rotate: bool = True,
    **common,
) -> Path:
    """Prepare DISFA from its release folder ``raw`` into ``out``; returns ``index.csv``.

    ``camera`` is ``left``, ``right`` or ``both``; ``common`` are the options every reader takes
    (:class:`~au.prepare.reader_base.CommonOptions`). ``crop_geometry`` and ``rotate`` say how
    crops are cut from the released landmarks
    (:func:`~au.prepare.reader_base.landmark_geometry`), which exist for the left camera only:
    right-camera crops come from detector boxes and are never rotated, so either option with
    ``camera="right"`` is refused.

    Raises:
        PrepareError: On a bad ``camera``, ``rotate=False`` or ``crop_geometry`` for the right
            camera alone, or a problem with the release.
    """
    run = common_options("disfa", common)
    if camera not in ("left", "right", "both"):
        raise PrepareError(f"--camera must be left, right or both, not {camera!r}")
    for given, flag in ((not rotate, "--no-rotate"), (crop_geometry, "--crop-geometry")):
        if camera == "right" and given:
            raise PrepareError(
                f"{flag} has no effect with --camera right: the right camera has no released "
                "landmarks, so its crops come from face-detector boxes and are never rotated"
            )
    geometry = landmark_geometry(crop_geometry, rotate, landmarks=66)
    cameras = ("left", "right") if camera == "both" else (camera,)
    layout = locate(raw, cameras)
    subjects = select_subjects(find_subjects(layout.labels), run.limit_subjects, layout.labels)
    warn_outside_split(subjects, SUBJECT_FOLD, "DISFA")
    first = video_file(layout.videos[cameras[0]], cameras[0], subjects[0])
    crops = CropWriter(out, run.crop_size, probe_gray(first), geometry)
    work = functools.partial(_prepare_subject, layout=layout, crops=crops)
    meta = {
        "name": "disfa",
        "label_type": "intensity",
        "positive_threshold": 2,
        "aus": list(DISFA_AUS),
        "num_folds": 3,
        "cameras": list(cameras),
        "crop_size": run.crop_size,
        "split": "JAA-Net / ME-GraphAU 3-fold subject split; fold k is part k",
    }
    if camera == "right":
        meta |= geometry_meta(BOX_GEOMETRY)
    else:
        meta |= geometry_meta(geometry, BOX_GEOMETRY if camera == "both" else None)
    options = {"camera": camera, "crop_size": run.crop_size, **geometry_meta(geometry)}
    return prepare_units(
        subjects, work, out, run, options=options, meta=meta, desc="DISFA subjects"
    )
