"""Face alignment on 5 landmarks: a similarity transform onto a canonical 5-point template.

The template is ArcFace's (InsightFace) 112 x 112 one: eye centres, nose tip, mouth corners,
in that order, image-left first. Its 112-pixel square is taken as the face box, and au's crop
geometry is kept: the crop is ``1 + 2 * margin`` times that box
(:func:`au.alignment.crop_box`), so the template shrinks towards the crop's centre. The
transform (rotation, uniform scale, shift) is the least-squares one (Umeyama 1991), solved in
closed form.

The crop geometry of boxes and landmark sets is here too: a square ``1 + 2 * margin`` times
the points' extent, eyes levelled (:func:`crop_face`, :func:`crop_box`). This module depends
only on numpy and OpenCV, so both ``au.prepare`` (crops for training) and ``au.predict`` cut
faces with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: ArcFace's 5 points in a 112 x 112 face square: left eye, right eye, nose, mouth left, right.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
ARCFACE_SIDE = 112.0
#: Crop margin on each side, as a fraction of the landmarks' (or the box's) extent.
CROP_MARGIN = 0.15


def template_points(size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """The template (5, 2) in a ``size`` square crop that is ``1 + 2 * margin`` face boxes wide."""
    centred = ARCFACE_TEMPLATE / ARCFACE_SIDE - 0.5
    return (centred / (1 + 2 * margin) + 0.5) * size


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) best mapping ``source`` onto ``target``.

    Least squares over the points (N, 2), without reflection (Umeyama's closed form).
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - source_mean, target - target_mean
    covariance = dst.T @ src / len(src)  # (2, 2)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / src.var(axis=0).sum())
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def landmark_affine(landmarks: np.ndarray, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """The 2x3 map from the image to a ``size`` crop with ``landmarks`` (5, 2) on the template."""
    return similarity_transform(landmarks, template_points(size, margin))


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int, margin: float = CROP_MARGIN
) -> np.ndarray:
    """A ``size`` x ``size`` crop with the 5 ``landmarks`` on the template; black outside."""
    matrix = landmark_affine(landmarks, size, margin)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR)
    return crop.reshape(size, size, *image.shape[2:])


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Eye centres of the usual landmark schemes (5, 49, 66 or 68 points), else ``None``."""
    schemes = {5: ([0], [1]), 49: (range(19, 25), range(25, 31))}
    schemes.update({n: (range(36, 42), range(42, 48)) for n in (66, 68)})
    if len(landmarks) not in schemes:
        return None
    first, second = schemes[len(landmarks)]
    return landmarks[list(first)].mean(axis=0), landmarks[list(second)].mean(axis=0)


def face_affine(
    points: np.ndarray,
    size: int,
    margin: float = CROP_MARGIN,
    eyes: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The 2x3 affine map from the image to a ``size`` square around ``points``.

    The square is centred on the points' bounding box (in the eye-levelled frame when ``eyes``
    are given) and is ``1 + 2 * margin`` times its longer side.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 2:
        raise ValueError("a face crop needs at least two finite landmarks")
    angle = 0.0
    if eyes is not None:
        left, right = sorted((np.asarray(e, dtype=np.float64) for e in eyes), key=lambda e: e[0])
        angle = math.atan2(right[1] - left[1], right[0] - left[0])
    cos, sin = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    mean = pts.mean(axis=0)
    levelled = (pts - mean) @ rotation.T
    low, high = levelled.min(axis=0), levelled.max(axis=0)
    centre = (low + high) / 2
    side = max(float((high - low).max()) * (1 + 2 * margin), 1.0)
    scale = size / side
    shift = scale * (-rotation @ mean - centre) + size / 2
    return np.hstack([scale * rotation, shift[:, None]])


def crop_face(
    image: np.ndarray,
    points: np.ndarray,
    size: int,
    margin: float = CROP_MARGIN,
    rotate: bool = True,
    eyes: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Crop a ``size`` x ``size`` face around ``points``; eyes levelled when ``rotate``.

    The eye centres come from ``eyes`` or, for the usual landmark schemes, from ``points``.
    Pixels outside the image are black. The crop keeps the image's channels.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    eyes = (eyes or eye_centers(pts)) if rotate else None
    matrix = face_affine(pts, size, margin, eyes)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR)


def box_points(box: Sequence[float]) -> np.ndarray:
    """The four corners of an ``(x, y, w, h)`` box, usable as crop points."""
    x, y, w, h = (float(v) for v in box)
    return np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]])


def crop_box(
    image: np.ndarray,
    box: Sequence[float],
    size: int,
    margin: float = CROP_MARGIN,
    roll: float = 0.0,
) -> np.ndarray:
    """Crop a ``size`` square around an ``(x, y, w, h)`` face box, turned by ``roll`` radians.

    The geometry of :func:`crop_face` on the box's corners (``roll = 0`` gives exactly
    ``crop_face(image, box_points(box), size, margin, rotate=False)``, as prepare scripts cut
    detected faces); with a roll (from the eyes, positive when the right-hand eye is lower) the
    box is turned about its centre and the crop comes out with the eyes level. ``au.predict``
    cuts its faces with this function.
    """
    corners = box_points(box)
    if roll == 0.0:
        return crop_face(image, corners, size, margin, rotate=False)
    centre = corners.mean(axis=0)
    turn = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    turned = (corners - centre) @ turn.T + centre
    eyes = (centre, centre + turn[:, 0])
    return crop_face(image, turned, size, margin, rotate=True, eyes=eyes)
