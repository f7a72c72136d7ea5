"""Face alignment on 5 landmarks: a similarity transform onto a canonical 5-point template.

The template is ArcFace's (InsightFace) 112 x 112 one: eye centres, nose tip, mouth corners,
in that order, image-left first. Its 112-pixel square is taken as the face box, and au's crop
geometry is kept: the crop is ``1 + 2 * margin`` times that box
(:func:`au.prepare.common.crop_box`), so the template shrinks towards the crop's centre. The
transform (rotation, uniform scale, shift) is the least-squares one (Umeyama 1991), solved in
closed form. This module depends only on numpy and OpenCV, so both ``au.prepare`` (crops for
training) and ``au.predict`` can use it.
"""

from __future__ import annotations

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
#: Crop margin of :func:`au.prepare.common.crop_box` (on each side, fraction of the box side).
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
