"""Faces followed through a video: detect every n-th frame, keep smoothed boxes in between.

Face detection is the slow part of a frame (tens of ms for a Haar cascade at 640x480), while a
face moves little from one frame to the next. :class:`FaceTracker` runs the detector on every
``detect_every``-th frame of a source, matches its boxes to the faces it follows by overlap,
smooths each box (an exponential moving average, so a jittery detector does not shake the crop)
and reuses the boxes on the frames between. Eyes (for aligned crops) are looked for on the
detection frames, inside the smoothed box.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from au.inference.align import EyeFinder, roll_of
from au.inference.faces import FaceBox


@dataclass
class TrackedFace:
    """A face followed across frames: its track number, smoothed box and head roll (radians)."""

    track: int
    box: FaceBox
    roll: float = 0.0
    misses: int = 0


def box_iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inter = max(width, 0) * max(height, 0)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def blend(old: FaceBox, new: FaceBox, weight: float) -> FaceBox:
    """``weight`` of ``new``, ``1 - weight`` of ``old`` per coordinate; ``new``'s score, marks."""
    mixed = [weight * n + (1 - weight) * o for o, n in zip(_xywh(old), _xywh(new), strict=True)]
    return FaceBox(*(round(v) for v in mixed), score=new.score, landmarks=new.landmarks)


def _xywh(box: FaceBox) -> tuple[int, int, int, int]:
    return box.x, box.y, box.w, box.h


class FaceTracker:
    """Detect faces every ``detect_every``-th frame and follow them in between.

    Args:
        detect: Maps an RGB frame to face boxes (:mod:`au.inference.faces`).
        detect_every: Run ``detect`` on one frame in this many (1: every frame).
        smoothing: Weight of a new detection in a followed face's box (1: no smoothing).
        min_iou: Overlap needed to take a detection for a face already followed.
        max_misses: Detection frames in a row a followed face may go undetected (its last box
            is kept meanwhile) before it is dropped.
        eyes: Finds the eyes in a box (aligned crops), or ``None`` (no roll).
    """

    def __init__(
        self,
        detect: Callable[[np.ndarray], list[FaceBox]],
        detect_every: int = 1,
        smoothing: float = 0.6,
        min_iou: float = 0.3,
        max_misses: int = 1,
        eyes: EyeFinder | None = None,
    ):
        if detect_every < 1 or not 0 < smoothing <= 1:
            raise ValueError(
                f"detect_every must be >= 1 and smoothing in (0, 1], got {detect_every}, "
                f"{smoothing}"
            )
        self.detect, self.detect_every, self.smoothing = detect, detect_every, smoothing
        self.min_iou, self.max_misses, self.eyes = min_iou, max_misses, eyes
        self.faces: list[TrackedFace] = []
        self.seen = 0
        self._numbers = itertools.count()

    def reset(self) -> None:
        """Forget every face (a new source starts)."""
        self.faces, self.seen = [], 0

    def __call__(self, image: np.ndarray) -> list[TrackedFace]:
        """The faces of the next frame of the current source."""
        if self.seen % self.detect_every == 0:
            self._update(image, self.detect(image))
        self.seen += 1
        return [replace(face) for face in self.faces]  # copies: the tracker's own change

    def _update(self, image: np.ndarray, boxes: list[FaceBox]) -> None:
        unmatched = list(boxes)
        for face in self.faces:
            best = max(unmatched, key=lambda b: box_iou(face.box, b), default=None)
            if best is not None and box_iou(face.box, best) >= self.min_iou:
                face.box, face.misses = blend(face.box, best, self.smoothing), 0
                unmatched.remove(best)
            else:
                face.misses += 1
        self.faces = [f for f in self.faces if f.misses <= self.max_misses]
        self.faces += [TrackedFace(next(self._numbers), box) for box in unmatched]
        for face in self.faces:
            if face.misses == 0 and self.eyes is not None and face.box.landmarks is None:
                found = self.eyes(image, face.box)
                face.roll = roll_of(found) if found is not None else face.roll
        self.faces.sort(key=lambda f: f.box.w * f.box.h, reverse=True)
