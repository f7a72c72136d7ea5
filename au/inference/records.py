"""Prediction rows (one per face per frame) streamed to ``predictions.csv`` and ``.jsonl``."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

from au.inference.detector import FacePredictions
from au.inference.faces import FaceBox
from au.inference.media import Frame

#: Columns before the per-AU and per-emotion ones.
FRAME_COLUMNS = ("source", "frame", "time_s", "face", "x", "y", "w", "h", "detector_score")
#: Index of the face in a frame's row when no face was found.
NO_FACE = -1


def prediction_columns(aus: Sequence[str], emotions: Sequence[str]) -> list[str]:
    """All columns: frame/box fields, ``p_<AU>``, ``<AU>`` (0/1), ``emotion_<name>``, top."""
    return [
        *FRAME_COLUMNS,
        *(f"p_{au}" for au in aus),
        *aus,
        *(f"emotion_{name}" for name in emotions),
        "top_emotion",
    ]


def _number(value: float, digits: int = 6) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def frame_fields(frame: Frame) -> dict:
    """The fields every row of a frame shares."""
    time_s = None if frame.time_s is None else round(frame.time_s, 4)
    return {"source": frame.source.name, "frame": frame.index, "time_s": time_s}


def face_rows(
    frame: Frame,
    boxes: Sequence[FaceBox],
    predictions: FacePredictions,
    aus: Sequence[str],
    emotions: Sequence[str],
) -> list[dict]:
    """One row per face of a frame, or a single ``face = -1`` row when it has none."""
    if not boxes:
        return [{**frame_fields(frame), "face": NO_FACE}]
    rows = []
    for face, box in enumerate(boxes):
        score = None if box.score is None else _number(box.score, 4)
        row = {**frame_fields(frame), "face": face, "x": box.x, "y": box.y, "w": box.w, "h": box.h}
        row["detector_score"] = score
        probabilities = predictions.probabilities[face]
        row.update({f"p_{au}": _number(p) for au, p in zip(aus, probabilities, strict=True)})
        row.update({au: int(d) for au, d in zip(aus, predictions.decisions[face], strict=True)})
        scores = predictions.emotion_scores[face]
        row.update({f"emotion_{e}": _number(s) for e, s in zip(emotions, scores, strict=True)})
        row["top_emotion"] = str(predictions.top_emotions[face])
        rows.append(row)
    return rows


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
