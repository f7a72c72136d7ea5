"""The predict loop: frames ▸ faces ▸ crops, batched across frames ▸ detector ▸ rows, media.

Frames are decoded by a background thread (:mod:`au.inference.stream`), faces are detected on
every n-th frame and followed in between (:mod:`au.inference.tracking`), each face is cut
straight at the model's input size with the crop geometry the checkpoint was trained on
(:func:`face_geometry`, :func:`au.alignment.cut_face`: the function ``au.prepare`` cuts
training crops with), and crops of several frames go through the model together.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from tqdm import tqdm

from au.alignment import CROP_MARGIN, CropGeometry, cut_face
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


def face_geometry(
    trained: CropGeometry | None, margin: float, align: bool, landmarks: bool
) -> tuple[CropGeometry, str]:
    """How to cut a face, and why: as the checkpoint's crops where the face allows it.

    Args:
        trained: The checkpoint's crop geometry (``None``: none recorded, or one au does not
            cut, such as renders recorded without their template): faces are then cut as
            before geometries were recorded, ``template5`` with 5 landmarks, else ``eyes``.
            Renders recorded with their template (``template5`` onto it, margin 0) are cut
            onto it; a face without landmarks then gets ``eyes`` at
            :data:`~au.alignment.CROP_MARGIN`, as before (a box has no template to follow).
        margin: The crop margin (the checkpoint's unless ``margin`` was given).
        align: ``False`` (``align=false``): upright ``box`` crops, whatever the checkpoint.
        landmarks: Whether the face has the 5 landmarks (MTCNN); without them a ``template5``
            checkpoint gets the nearest au can cut from a box: ``eyes`` (Haar's eye cascade).
    """
    if not align:
        return CropGeometry("box", margin), "align=false"
    if trained is None:
        method = "template5" if landmarks else "eyes"
        return CropGeometry(method, margin), "the checkpoint records no crop geometry au cuts"
    if trained.method == "template5" and not landmarks:
        why = "the checkpoint's crops are template5, which needs the 5 landmarks these faces lack"
        if trained.template is not None and margin == trained.margin:
            margin = CROP_MARGIN  # the renders' template: a box gets au's usual margin
        return CropGeometry("eyes", margin), why + " (detector=haar): the nearest from a box"
    return replace(trained, margin=margin), "as the checkpoint's crops"


def cut_detected_face(
    image: np.ndarray, face: FaceBox, geometry: CropGeometry, size: int, roll: float = 0.0
) -> np.ndarray:
    """The ``size`` crop of a detected ``face`` (:func:`au.alignment.cut_face`).

    ``template5``, and crops of a data set cut around its 5 landmarks, take the face's 5
    landmarks; the others its box, turned by the eye line of its landmarks or else by ``roll``.
    """
    marks = face.landmarks
    if geometry.method == "template5" or (geometry.landmarks == 5 and marks is not None):
        return cut_face(image, geometry, size, points=marks)
    if marks is not None:
        left, right = sorted(marks[:2], key=lambda eye: eye[0])
        roll = math.atan2(right[1] - left[1], right[0] - left[0])
    return cut_face(image, geometry, size, box=(face.x, face.y, face.w, face.h), roll=roll)


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
        margin: Crop margin (see :func:`au.alignment.cut_face`); ``None``: the checkpoint's
            (its ``crop_geometry``), else :data:`~au.alignment.CROP_MARGIN`.
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
        margin: float | None = None,
        live: LiveView | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.detector, self.tracker = detector, tracker
        self.table, self.annotator, self.live = table, annotator, live
        self.batch_size = 1 if live is not None else batch_size  # show frames without delay
        #: How the checkpoint's training crops were cut (``None``: not a geometry au cuts).
        self.trained: CropGeometry | None = getattr(detector, "crop_geometry", None)
        trained_margin = self.trained.margin if self.trained else CROP_MARGIN
        self.margin = trained_margin if margin is None else margin
        self._told: set[tuple[CropGeometry, str]] = set()
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
            except MediaReadError as err:  # its message names the file once, and why
                self._skip(str(err))
            except cv2.error as err:  # OpenCV's message does not name the file
                self._skip(f"cannot decode {source.location}: {str(err).strip()}")

    def _skip(self, reason: str) -> None:
        log.warning("skipped: %s", reason)
        self.summary.skipped.append(reason)

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
        """The model's input for a face, cut as :func:`face_geometry` says (logged once).

        ``align=true`` gives the tracker an eye finder, whose ``roll`` turns Haar faces.
        """
        align, landmarks = self.tracker.eyes is not None, box.landmarks is not None
        geometry, why = face_geometry(self.trained, self.margin, align, landmarks)
        if (geometry, why) not in self._told:
            self._told.add((geometry, why))
            other = self.trained is not None and geometry.method != self.trained.method
            level = logging.WARNING if other else logging.INFO
            log.log(level, "faces cut as %s: %s", geometry.describe(), why)
        return cut_detected_face(image, box, geometry, self.detector.image_size, roll)

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
