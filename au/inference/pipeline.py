"""The predict loop: frames ▸ faces ▸ crops, batched across frames ▸ detector ▸ rows, media.

Frames are decoded by a background thread (:mod:`au.inference.stream`), faces are detected on
every n-th frame and followed in between (:mod:`au.inference.tracking`), each face is cut with
the prepare scripts' crop geometry straight at the model's input size (when aligning: the 5
landmarks of an MTCNN face mapped onto a template, :func:`au.alignment.align_face`, or the eyes
a Haar face's eye cascade found levelled), and crops of several frames go through the model
together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from au.alignment import CROP_MARGIN, align_face, crop_box
from au.inference.annotate import AnnotationWriter, annotate_frame, face_labels
from au.inference.detector import AUDetector
from au.inference.faces import FaceBox, clip_box, square_box
from au.inference.live import LiveView
from au.inference.media import Frame, MediaReadError, Source, count_frames, read_frames
from au.inference.records import FacePredictions, PredictionTable, face_rows
from au.inference.stream import StageTimes, read_ahead
from au.inference.tracking import FaceTracker

log = logging.getLogger(__name__)


@dataclass
class PredictSummary:
    """What a predict run went through."""

    frames: int = 0
    faces: int = 0
    no_face_frames: int = 0
    skipped: list[str] = field(default_factory=list)
    ended_early: list[str] = field(default_factory=list)
    seconds: float = 0.0
    times: StageTimes = field(default_factory=StageTimes)

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
        text += "\n" + self.times.format(self.frames) + " (decode runs beside the others)"
        text += "".join(f"\n  ended early: {s}" for s in self.ended_early)
        return text + "".join(f"\n  skipped: {s}" for s in self.skipped)


@dataclass
class _FrameFaces:
    frame: Frame
    boxes: list[FaceBox]
    crops: list[np.ndarray]


class PredictionRunner:
    """Runs an :class:`AUDetector` on the faces of many frames, a batch of faces at a time.

    Args:
        detector: The detector (any task's model; the rows follow its ``layout``).
        tracker: Finds and follows the faces of each source's frames; ``None``: every image is
            one already-cropped face (``detector=none``).
        table: Where rows go.
        annotator: Where annotated media go, or ``None``.
        batch_size: Faces per model call (frames are collected until they hold this many).
        margin: Crop margin around a face box (see :func:`au.alignment.crop_box`).
        live: Shows each annotated frame as soon as it is scored (camera); stops the run when
            it returns ``False``.
    """

    def __init__(
        self,
        detector: AUDetector,
        tracker: FaceTracker | None,
        table: PredictionTable,
        annotator: AnnotationWriter | None = None,
        batch_size: int = 32,
        margin: float = CROP_MARGIN,
        live: LiveView | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.detector, self.tracker = detector, tracker
        self.table, self.annotator, self.live = table, annotator, live
        self.batch_size = 1 if live is not None else batch_size  # show frames without delay
        self.margin = margin
        self.pending: list[_FrameFaces] = []
        self.summary = PredictSummary()
        self.times = self.summary.times
        self._source: Source | None = None

    def run(
        self,
        sources: Sequence[Source],
        every: int = 1,
        max_frames: int | None = None,
        progress: bool = True,
    ) -> PredictSummary:
        """Predict on every frame of ``sources``; Ctrl-C (or the live window) stops early."""
        if every < 1:
            raise ValueError(f"every must be at least 1 (keep every n-th frame), got {every}")
        started = time.perf_counter()
        counts = [count_frames(s, every) for s in sources]
        if max_frames is not None:
            counts = [max_frames if c is None else min(c, max_frames) for c in counts]
        total = None if None in counts else sum(counts)
        frames = read_ahead(self._frames(sources, every, max_frames), times=self.times)
        return self.run_frames(frames, total, progress, started)

    def run_frames(
        self,
        frames: Iterator[Frame],
        total: int | None = None,
        progress: bool = True,
        started: float | None = None,
    ) -> PredictSummary:
        """Predict on ``frames`` (already decoded, e.g. arrays held in memory); closes them."""
        started = time.perf_counter() if started is None else started
        try:
            for frame in tqdm(frames, total=total, unit="frame", disable=not progress):
                self._add(frame)
                if self.live is not None and self.live.stopped:
                    break
        except KeyboardInterrupt:
            log.warning("interrupted: keeping the frames processed so far")
        finally:
            if hasattr(frames, "close"):
                frames.close()
            self._flush()
            if self.annotator is not None:
                self.annotator.close()
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _frames(self, sources: Sequence[Source], every: int, limit: int | None) -> Iterator[Frame]:
        for source in sources:
            try:
                note = yield from read_frames(source, every, limit)
                if note:
                    log.warning("%s %s", source.location, note)
                    self.summary.ended_early.append(f"{source.location}: {note}")
            except (MediaReadError, cv2.error) as err:
                log.warning("skipping %s: %s", source.location, err)
                self.summary.skipped.append(f"{source.location}: {err}")

    def _add(self, frame: Frame) -> None:
        boxes, crops = self._faces(frame)
        self.pending.append(_FrameFaces(frame, boxes, crops))
        faces = sum(len(p.crops) for p in self.pending)
        if faces >= self.batch_size or len(self.pending) >= self.batch_size:
            self._flush()

    def _faces(self, frame: Frame) -> tuple[list[FaceBox], list[np.ndarray]]:
        image = frame.image
        if self.tracker is None:
            height, width = image.shape[:2]
            return [FaceBox(0, 0, width, height)], [image]
        if frame.source != self._source:
            self.tracker.reset()
            self._source = frame.source
        with self.times.measure("detect"):
            faces = self.tracker(image)
        with self.times.measure("crop"):
            height, width = image.shape[:2]
            boxes = [clip_box(square_box(f.box, self.margin), width, height) for f in faces]
            crops = [self._crop(image, f.box, f.roll) for f in faces]
        return boxes, crops

    def _crop(self, image: np.ndarray, box: FaceBox, roll: float) -> np.ndarray:
        """The model's input for a face: its landmarks onto the template when aligning.

        ``align=true`` gives the tracker an eye finder; faces without landmarks, or with
        ``align=false``, are cut around their box turned by ``roll`` (as au.prepare cuts them).
        """
        size = self.detector.image_size
        if box.landmarks is not None and self.tracker.eyes is not None:
            return align_face(image, box.landmarks, size, self.margin)
        return crop_box(image, (box.x, box.y, box.w, box.h), size, self.margin, roll)

    def _flush(self) -> None:
        crops = [crop for item in self.pending for crop in item.crops]
        with self.times.measure("model"):
            predictions = self.detector.predict(crops)
        start = 0
        with self.times.measure("write"):
            for item in self.pending:
                mine = predictions.select(slice(start, start + len(item.crops)))
                start += len(item.crops)
                self._emit(item, mine)
        self.pending = []

    def _emit(self, item: _FrameFaces, predictions: FacePredictions) -> None:
        self.table.write(face_rows(item.frame, item.boxes, predictions, self.detector.layout))
        self.summary.frames += 1
        self.summary.faces += len(item.boxes)
        self.summary.no_face_frames += not item.boxes
        if self.annotator is None and self.live is None:
            return
        labels = face_labels(predictions, self.detector.aus)
        image = annotate_frame(item.frame.image, item.boxes, predictions.top_emotions, labels)
        if self.annotator is not None:
            self.annotator.write(item.frame, image)
        if self.live is not None:
            self.live(image)
