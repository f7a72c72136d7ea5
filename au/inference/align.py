"""Eyes inside a Haar face box (OpenCV's bundled eye cascade) and the head roll they give.

``detector=haar`` boxes carry no landmarks, so their eyes are found with the eye cascade that
ships inside opencv-python, searched only in the upper part of the face box. MTCNN faces
(``detector=mtcnn``) bring their own 5 landmarks and are aligned on them instead
(:func:`au.alignment.align_face`).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from au.inference.faces import FaceBox, to_gray

#: Eye cascades tried in turn: the plain one (more eyes found on the synthetic set, 40 of 41
#: faces against 35), then the one trained to see eyes behind glasses.
EYE_CASCADES = ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")


class EyeFinder:
    """Both eye centres of a face, searched in the upper part of its box.

    Args:
        cascades: File names in ``cv2.data.haarcascades`` or paths to eye cascade XMLs, tried
            in turn until one finds both eyes.
        width: The face box is scaled to this width before the search (speed).
        max_roll: Eye pairs tilted more than this many degrees are rejected.
    """

    def __init__(
        self, cascades: tuple[str, ...] = EYE_CASCADES, width: int = 128, max_roll: float = 40.0
    ):
        self.classifiers = [_load_cascade(name) for name in cascades]
        self.width, self.max_roll = width, max_roll

    def __call__(self, image: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray] | None:
        """Left and right eye centres (x, y) in image pixels, or ``None`` if not both found."""
        top = box.y + round(0.1 * box.h)
        region = _inside(image, FaceBox(box.x, top, box.w, round(0.5 * box.h)))
        if region is None:
            return None
        (left, top), patch = region
        scale = self.width / max(box.w, 1)
        gray = cv2.resize(to_gray(patch), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray, smallest = cv2.equalizeHist(gray), max(6, round(0.1 * self.width))
        for classifier in self.classifiers:
            found = classifier.detectMultiScale(gray, 1.1, 3, minSize=(smallest, smallest))
            centres = [(x + w / 2, y + h / 2) for x, y, w, h in found]
            centres = [np.array((x / scale + left, y / scale + top)) for x, y in centres]
            pair = self._best_pair(centres, box)
            if pair is not None:
                return pair
        return None

    def _best_pair(self, centres: list[np.ndarray], box: FaceBox):
        middle = box.x + box.w / 2
        pairs = [
            (a, b)
            for a in centres
            if a[0] < middle
            for b in centres
            if b[0] >= middle and 0.2 * box.w < b[0] - a[0] < 0.75 * box.w
        ]
        pairs = [p for p in pairs if abs(math.degrees(roll_of(p))) <= self.max_roll]
        if not pairs:
            return None
        # the pair most symmetric about the box's vertical centre line
        return min(pairs, key=lambda p: abs((p[0][0] + p[1][0]) / 2 - middle))


def roll_of(eyes: tuple[np.ndarray, np.ndarray]) -> float:
    """Head roll in radians from the eye centres: positive when the right-hand eye is lower."""
    left, right = sorted(eyes, key=lambda e: e[0])
    return math.atan2(right[1] - left[1], right[0] - left[0])


def _load_cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(name) if Path(name).is_file() else Path(cv2.data.haarcascades) / name
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise FileNotFoundError(f"cannot load eye cascade {name!r} (looked at {path})")
    return classifier


def _inside(image: np.ndarray, box: FaceBox):
    height, width = image.shape[:2]
    left, top = max(box.x, 0), max(box.y, 0)
    right, bottom = min(box.x + box.w, width), min(box.y + box.h, height)
    if right - left < 8 or bottom - top < 8:
        return None
    return (left, top), image[top:bottom, left:right]
