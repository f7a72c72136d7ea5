"""The predict loop: frames ▸ faces ▸ crops, batched across frames ▸ AU detector ▸ rows, media."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from au.inference.annotate import AnnotationWriter, annotate_frame, face_label
from au.inference.detector import AUDetector, FacePredictions
from au.inference.faces import FaceBox, face_crops
from au.inference.media import Frame, MediaReadError, Source, count_frames, read_frames
from au.inference.records import PredictionTable, face_rows
from au.prepare.common import DEFAULT_MARGIN

log = logging.getLogger(__name__)


@dataclass
class PredictSummary:
    """What a predict run went through."""

    frames: int = 0
    faces: int = 0
    no_face_frames: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        """Frames processed per wall-clock second (reading, detection, model, writing)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        """One readable paragraph."""
        text = (
            f"{self.frames} frames, {self.faces} faces, {self.no_face_frames} frames without a "
            f"face, {len(self.skipped)} unreadable inputs skipped; {self.seconds:.1f} s, "
            f"{self.frames_per_second:.1f} frames/s"
        )
        return text + "".join(f"\n  skipped: {s}" for s in self.skipped)


@dataclass
class _FrameFaces:
    frame: Frame
    boxes: list[FaceBox]
    crops: list[np.ndarray]


class PredictionRunner:
    """Runs an :class:`AUDetector` on the faces of many frames, a batch of faces at a time.

    Args:
        detector: The AU detector.
        find_faces: Maps an RGB frame to face boxes (:mod:`au.inference.faces`).
        table: Where rows go.
        annotator: Where annotated media go, or ``None``.
        batch_size: Faces per model call (frames are collected until they hold this many).
        margin: Crop margin around a detected box (see :func:`au.inference.faces.square_box`).
        square: Cut a square around each box (``False`` when whole images are the faces).
    """

    def __init__(
        self,
        detector: AUDetector,
        find_faces: Callable[[np.ndarray], list[FaceBox]],
        table: PredictionTable,
        annotator: AnnotationWriter | None = None,
        batch_size: int = 32,
        margin: float = DEFAULT_MARGIN,
        square: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.detector, self.find_faces = detector, find_faces
        self.table, self.annotator = table, annotator
        self.batch_size, self.margin, self.square = batch_size, margin, square
        self.pending: list[_FrameFaces] = []
        self.summary = PredictSummary()

    def run(
        self,
        sources: Sequence[Source],
        every: int = 1,
        max_frames: int | None = None,
        progress: bool = True,
    ) -> PredictSummary:
        """Predict on every frame of ``sources``; Ctrl-C stops early and keeps what was done."""
        if every < 1:
            raise ValueError(f"every must be at least 1 (keep every n-th frame), got {every}")
        started = time.perf_counter()
        counts = [count_frames(s, every) for s in sources]
        if max_frames is not None:
            counts = [max_frames if c is None else min(c, max_frames) for c in counts]
        total = None if None in counts else sum(counts)
        frames = self._frames(sources, every, max_frames)
        try:
            for frame in tqdm(frames, total=total, unit="frame", disable=not progress):
                self._add(frame)
        except KeyboardInterrupt:
            log.warning("interrupted: keeping the frames processed so far")
        finally:
            self._flush()
            if self.annotator is not None:
                self.annotator.close()
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _frames(self, sources: Sequence[Source], every: int, limit: int | None) -> Iterator[Frame]:
        for source in sources:
            try:
                yield from read_frames(source, every, limit)
            except (MediaReadError, cv2.error) as err:
                log.warning("skipping %s: %s", source.location, err)
                self.summary.skipped.append(f"{source.location}: {err}")

    def _add(self, frame: Frame) -> None:
        boxes, crops = face_crops(
            frame.image, self.find_faces(frame.image), self.margin, self.square
        )
        self.pending.append(_FrameFaces(frame, boxes, crops))
        faces = sum(len(p.crops) for p in self.pending)
        if faces >= self.batch_size or len(self.pending) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        crops = [crop for item in self.pending for crop in item.crops]
        predictions = self.detector.predict(crops)
        start = 0
        for item in self.pending:
            mine = predictions.select(slice(start, start + len(item.crops)))
            start += len(item.crops)
            self._emit(item, mine)
        self.pending = []

    def _emit(self, item: _FrameFaces, predictions: FacePredictions) -> None:
        aus, emotions = self.detector.aus, self.detector.emotions
        self.table.write(face_rows(item.frame, item.boxes, predictions, aus, emotions))
        self.summary.frames += 1
        self.summary.faces += len(item.boxes)
        self.summary.no_face_frames += not item.boxes
        if self.annotator is None:
            return
        labels = [
            face_label(emotion, [au for au, on in zip(aus, active, strict=True) if on])
            for emotion, active in zip(predictions.top_emotions, predictions.decisions, strict=True)
        ]
        image = annotate_frame(item.frame.image, item.boxes, predictions.top_emotions, labels)
        self.annotator.write(item.frame, image)
