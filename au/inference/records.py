"""Prediction rows (one per face per frame) streamed to ``predictions.csv`` and ``.jsonl``.

The per-face columns follow the model's task (:class:`PredictionLayout`):

=========  ==========================================================================
task       columns after the frame and box fields
=========  ==========================================================================
au         ``p_<AU>``, ``<AU>`` (0/1), ``emotion_<name>``, ``top_emotion`` (AU read-out)
intensity  ``i_<AU>`` (0-5), ``<AU>`` (0/1), ``emotion_<name>``, ``top_emotion`` (read-out)
emotion    ``emotion_<class>``, ``top_emotion`` (the emotion head)
joint      ``p_<AU>``, ``<AU>``, ``emotion_<class>``, ``top_emotion`` (head),
           ``readout_<name>``, ``readout_emotion`` (AU read-out)
=========  ==========================================================================

An output of a task that this table does not list (a new task's own, e.g. ``valence``) is
written as one ``<output>_<label>`` column per label of :meth:`~au.tasks.base.Task.
output_labels`; ``emotion_*`` and ``top_emotion`` appear only where the model gives emotions.

Every row also has the face's 5 landmarks in frame pixels (``lm0_x, lm0_y ... lm4_x, lm4_y``:
left eye, right eye, nose tip, left and right mouth corner, image-left first) and its head pose
in degrees (``yaw``, ``pitch``, ``roll``; :mod:`au.inference.pose`), as OpenFace and py-feat
report them; they are empty where the detector gives no landmarks (``haar``, ``none``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from au.inference.faces import FaceBox
from au.inference.media import Frame
from au.inference.pose import head_pose

#: The 5 landmarks' columns, in frame pixels.
LANDMARK_COLUMNS = tuple(f"lm{i}_{axis}" for i in range(5) for axis in ("x", "y"))
#: Head pose columns, in degrees.
POSE_COLUMNS = ("yaw", "pitch", "roll")
#: Columns before the per-AU and per-emotion ones.
FRAME_COLUMNS = (
    "source", "frame", "time_s", "face", "x", "y", "w", "h", "detector_score",
    *LANDMARK_COLUMNS, *POSE_COLUMNS,
)  # fmt: skip
#: Decimals of the landmark and pose columns.
GEOMETRY_DIGITS = 2
#: Index of the face in a frame's row when no face was found.
NO_FACE = -1
#: Decimals of the ``i_<AU>`` intensity columns.
INTENSITY_DIGITS = 3


@dataclass
class FacePredictions:
    """Predictions for N faces; the AU fields are ``None`` where the model has no such output."""

    emotion_scores: np.ndarray  # (N, E): head probabilities or read-out scores (NaN: inexpressible)
    top_emotions: np.ndarray  # (N,) names of the best-scoring emotion
    au_probabilities: np.ndarray | None = None  # (N, A) sigmoid outputs
    au_decisions: np.ndarray | None = None  # (N, A) bool: the AU is present
    intensities: np.ndarray | None = None  # (N, A) on 0-5
    readout_scores: np.ndarray | None = None  # (N, R) AU read-out beside an emotion head
    readout_emotions: np.ndarray | None = None  # (N,) its best-scoring emotion
    other: dict[str, np.ndarray] = field(default_factory=dict)  # a task's own outputs (N, L)

    def __len__(self) -> int:
        return len(self.top_emotions)

    def select(self, rows: slice) -> FacePredictions:
        """The predictions of a slice of the faces."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "other"}
        picked = {k: None if v is None else v[rows] for k, v in values.items()}
        return FacePredictions(**picked, other={k: v[rows] for k, v in self.other.items()})


@dataclass(frozen=True)
class PredictionLayout:
    """Which per-face columns a model's rows hold (see the module docstring)."""

    aus: tuple[str, ...] = ()
    au_probabilities: bool = False  # p_<AU>
    intensities: bool = False  # i_<AU>
    au_decisions: bool = False  # <AU>, 0/1
    emotions: tuple[str, ...] = ()  # emotion_<name>, then top_emotion
    readout_emotions: tuple[str, ...] = ()  # readout_<name>, then readout_emotion
    other: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (output, labels): <output>_<label>

    def columns(self) -> list[str]:
        """All columns, frame and box fields first."""
        columns = list(FRAME_COLUMNS)
        columns += [f"p_{au}" for au in self.aus] if self.au_probabilities else []
        columns += [f"i_{au}" for au in self.aus] if self.intensities else []
        columns += list(self.aus) if self.au_decisions else []
        for name, labels in self.other:
            columns += [f"{name}_{label}" for label in labels]
        if self.emotions:
            columns += [*(f"emotion_{name}" for name in self.emotions), "top_emotion"]
        if self.readout_emotions:
            columns += [*(f"readout_{name}" for name in self.readout_emotions), "readout_emotion"]
        return columns


def _number(value: float, digits: int = 6) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def frame_fields(frame: Frame) -> dict:
    """The fields every row of a frame shares."""
    time_s = None if frame.time_s is None else round(frame.time_s, 4)
    return {"source": frame.source.name, "frame": frame.index, "time_s": time_s}


def face_rows(
    frame: Frame, boxes: Sequence[FaceBox], predictions: FacePredictions, layout: PredictionLayout
) -> list[dict]:
    """One row per face of a frame, or a single ``face = -1`` row when it has none."""
    if not boxes:
        return [{**frame_fields(frame), "face": NO_FACE}]
    rows = []
    for face, box in enumerate(boxes):
        score = None if box.score is None else _number(box.score, 4)
        row = {**frame_fields(frame), "face": face, "x": box.x, "y": box.y, "w": box.w, "h": box.h}
        row["detector_score"] = score
        row |= landmark_fields(box, frame.image.shape[1], frame.image.shape[0])
        rows.append(row | prediction_fields(predictions, face, layout))
    return rows


def landmark_fields(box: FaceBox, width: int, height: int) -> dict:
    """A face's landmark and pose columns (none when its box has no landmarks)."""
    if box.landmarks is None:
        return {}
    points = np.asarray(box.landmarks, np.float64).reshape(5, 2)
    row = {
        name: _number(value, GEOMETRY_DIGITS)
        for name, value in zip(LANDMARK_COLUMNS, points.ravel(), strict=True)
    }
    pose = head_pose(points, width, height)
    return row | {n: _number(v, GEOMETRY_DIGITS) for n, v in zip(POSE_COLUMNS, pose, strict=True)}


def prediction_fields(predictions: FacePredictions, face: int, layout: PredictionLayout) -> dict:
    """The model's columns of one face."""
    aus, row = layout.aus, {}
    if predictions.au_probabilities is not None:
        values = predictions.au_probabilities[face]
        row.update({f"p_{au}": _number(p) for au, p in zip(aus, values, strict=True)})
    if predictions.intensities is not None:
        values = predictions.intensities[face]
        row.update(
            {f"i_{au}": _number(i, INTENSITY_DIGITS) for au, i in zip(aus, values, strict=True)}
        )
    if predictions.au_decisions is not None:
        row.update({au: int(d) for au, d in zip(aus, predictions.au_decisions[face], strict=True)})
    for name, labels in layout.other:
        values = predictions.other[name][face]
        row.update({f"{name}_{label}": _number(v) for label, v in zip(labels, values, strict=True)})
    if layout.emotions:
        scores = predictions.emotion_scores[face]
        names = layout.emotions
        row.update({f"emotion_{e}": _number(s) for e, s in zip(names, scores, strict=True)})
        row["top_emotion"] = str(predictions.top_emotions[face])
    if layout.readout_emotions:
        scores = predictions.readout_scores[face]
        names = layout.readout_emotions
        row.update({f"readout_{e}": _number(s) for e, s in zip(names, scores, strict=True)})
        row["readout_emotion"] = str(predictions.readout_emotions[face])
    return row


class PredictionTable:
    """Writes rows as they come to ``predictions.csv`` and ``predictions.jsonl`` in ``folder``.

    Missing values are empty cells in the CSV and ``null`` in the JSON lines.
    """

    def __init__(self, folder: Path, columns: Sequence[str]):
        folder.mkdir(parents=True, exist_ok=True)
        self.csv_path, self.jsonl_path = folder / "predictions.csv", folder / "predictions.jsonl"
        self.columns = list(columns)
        self._csv_file = self.csv_path.open("w", newline="", encoding="utf-8")
        self._jsonl_file = self.jsonl_path.open("w", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=self.columns)
        self._csv.writeheader()
        self.rows = 0

    def write(self, rows: Sequence[dict]) -> None:
        """Append rows (keys among the columns; absent keys are missing values)."""
        for row in rows:
            full = {column: row.get(column) for column in self.columns}
            self._csv.writerow(full)
            self._jsonl_file.write(json.dumps(full) + "\n")
        self.rows += len(rows)

    def close(self) -> None:
        """Flush and close both files."""
        self._csv_file.close()
        self._jsonl_file.close()

    def __enter__(self) -> PredictionTable:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
