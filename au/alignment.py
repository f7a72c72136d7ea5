"""Face crops, cut the same way for training (``au.prepare``) and use (``au.predict``).

A crop geometry (:class:`CropGeometry`) names what a crop is; :func:`cut_face` cuts it, from
landmark points or from a detector's box:

- ``template5``: the 5 points (eye centres, nose tip, mouth corners, image-left first) mapped
  by a similarity transform onto ArcFace's (InsightFace) 112 x 112 template, whose square is
  taken as the face box; the crop is ``1 + 2 * margin`` times that box, so the template shrinks
  towards the crop's centre. The transform (rotation, uniform scale, shift) is the least-squares
  one (Umeyama 1991), solved in closed form. The same points give the same crop wherever they
  come from (a release's landmarks, :func:`five_points`, or MTCNN's).
- ``eyes``: a square ``1 + 2 * margin`` times the points' extent (or a box's longer side), turned
  so the eyes are level (:func:`crop_face`, :func:`crop_box`).
- ``box``: the same square, upright.

Two further methods are recorded but never cut here: ``released`` (a release's own face crops,
FER-2013's) and ``synthetic`` (the generator's renders). A ``synthetic`` record that holds the
renders' mean 5 points (``template``) is cut as ``template5`` onto that template instead of
ArcFace's, with no margin: a detected face is framed as the renders frame theirs. This module
depends only on numpy and OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from au.errors import CheckpointError

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
#: The crop methods :func:`cut_face` cuts.
CUT_METHODS = ("template5", "eyes", "box")
#: Geometries au records but does not cut: rendered, released-as-cropped or mixed data.
UNCUT_METHODS = ("synthetic", "released", "mixed")
#: Landmark count -> the indices averaged into each of the 5 template points (eye centres, nose
#: tip, mouth corners; image-left first): the 5-point (MTCNN, CelebA), 49-point (IntraFace,
#: DISFA+) and 66/68-point (iBUG, DISFA) schemes.
FIVE_POINT_SCHEMES: dict[int, tuple[Sequence[int], ...]] = {
    5: ([0], [1], [2], [3], [4]),
    49: (range(19, 25), range(25, 31), [13], [31], [37]),
    **{n: (range(36, 42), range(42, 48), [30], [48], [54]) for n in (66, 68)},
}


@dataclass(frozen=True)
class CropGeometry:
    """What a face crop is: how its square sits on the face (see the module docstring).

    ``index.json`` and a checkpoint's ``data_config`` record it as :meth:`to_dict` gives it.

    Attributes:
        method: ``template5``, ``eyes`` or ``box``.
        margin: Crop margin on each side: of the template's face box (``template5``), else of
            the extent of what the square was measured on.
        landmarks: ``eyes`` and ``box`` crops of a data set: how many landmarks the square was
            measured on (5: the template points themselves, as CelebA's); ``None``: a box.
        template: ``template5`` onto another template than ArcFace's: its 5 points as
            fractions of the crop at margin 0 (the synthetic renders' mean points); ``None``:
            ArcFace's.
    """

    method: str = "template5"
    margin: float = CROP_MARGIN
    landmarks: int | None = None
    template: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self):
        if self.method not in CUT_METHODS:
            raise ValueError(f"crop method {self.method!r}: choose one of {', '.join(CUT_METHODS)}")

    def to_dict(self) -> dict:
        """``{"method": ..., "margin": ...}``, with ``landmarks`` and ``template`` where set."""
        record = {"method": self.method, "margin": float(self.margin)}
        if self.landmarks is not None:
            record["landmarks"] = self.landmarks
        if self.template is not None:
            record["template"] = [list(point) for point in self.template]
        return record

    @classmethod
    def from_dict(cls, record: Mapping | None) -> CropGeometry | None:
        """The geometry ``record`` names; ``None`` for none or one au does not cut (synthetic).

        Raises:
            CheckpointError: If the record names no known method or a margin that is no number
                (a hand-edited record: it would otherwise be ignored or cut faces wrongly).
        """
        if record and record.get("method") == "synthetic" and record.get("template"):
            return cls("template5", 0.0, template=template_of(record["template"]))
        if not record or record.get("method") in UNCUT_METHODS:
            return None
        margin = record.get("margin", CROP_MARGIN)
        if record.get("method") not in CUT_METHODS or not isinstance(margin, int | float):
            raise CheckpointError(
                f"crop_geometry {dict(record)}: expected a method among "
                f"{', '.join(CUT_METHODS + UNCUT_METHODS)} and a numeric margin"
            )
        template = template_of(record["template"]) if record.get("template") else None
        return cls(record["method"], float(margin), record.get("landmarks"), template)

    def describe(self) -> str:
        """E.g. ``template5 (margin 0.15)``; ``template5 on the renders' template (margin 0)``."""
        on = f", on {self.landmarks} landmarks" if self.landmarks is not None else ""
        onto = " on the renders' template" if self.template is not None else ""
        return f"{self.method}{onto} (margin {self.margin:g}{on})"


def template_of(points: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """A recorded template (5 points, fractions of the crop) as a hashable tuple.

    Raises:
        CheckpointError: If it is not 5 pairs of numbers.
    """
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape != (5, 2) or not np.isfinite(array).all():
        raise CheckpointError(f"crop_geometry template {points!r}: expected 5 [x, y] fractions")
    return tuple((float(x), float(y)) for x, y in array)


def template_points(
    size: int, margin: float = CROP_MARGIN, template: Sequence[Sequence[float]] | None = None
) -> np.ndarray:
    """The template (5, 2) in a ``size`` square crop that is ``1 + 2 * margin`` face boxes wide.

    ``template``: 5 points as fractions of the face box (``None``: ArcFace's).
    """
    fractions = ARCFACE_TEMPLATE / ARCFACE_SIDE if template is None else np.asarray(template)
    return ((fractions - 0.5) / (1 + 2 * margin) + 0.5) * size


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


def landmark_affine(
    landmarks: np.ndarray,
    size: int,
    margin: float = CROP_MARGIN,
    template: Sequence[Sequence[float]] | None = None,
) -> np.ndarray:
    """The 2x3 map from the image to a ``size`` crop with ``landmarks`` (5, 2) on the template."""
    return similarity_transform(landmarks, template_points(size, margin, template))


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int,
    margin: float = CROP_MARGIN,
    template: Sequence[Sequence[float]] | None = None,
) -> np.ndarray:
    """A ``size`` x ``size`` crop with the 5 ``landmarks`` on the template; black outside.

    ``template``: :func:`template_points`'s (``None``: ArcFace's).
    """
    matrix = landmark_affine(landmarks, size, margin, template)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR)
    return crop.reshape(size, size, *image.shape[2:])


def five_points(landmarks: np.ndarray) -> np.ndarray | None:
    """The 5 template points (5, 2) of a scheme of :data:`FIVE_POINT_SCHEMES`, else ``None``."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    scheme = FIVE_POINT_SCHEMES.get(len(points))
    if scheme is None:
        return None
    return np.array([points[list(part)].mean(axis=0) for part in scheme])


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Eye centres of the usual landmark schemes (5, 49, 66 or 68 points), else ``None``."""
    points = five_points(landmarks)
    return None if points is None else (points[0], points[1])


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


def cut_face(
    image: np.ndarray,
    geometry: CropGeometry,
    size: int,
    *,
    points: np.ndarray | None = None,
    box: Sequence[float] | None = None,
    roll: float = 0.0,
    eyes: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The ``size`` x ``size`` crop of a face that ``geometry`` names; black outside the image.

    ``au.prepare`` and ``au.predict`` both cut faces with this function.

    Args:
        image: The image (H, W[, C]); the crop keeps its channels.
        geometry: What the crop is.
        size: Side of the crop in pixels.
        points: ``template5``: the 5 template points (5, 2). ``eyes``, ``box``: landmarks
            (N, 2) the square is measured on (their eyes from ``eyes`` or their scheme).
        box: ``eyes``, ``box`` without ``points``: an ``(x, y, w, h)`` face box.
        roll: ``eyes`` from a box: the head roll in radians (:func:`crop_box`).
        eyes: ``eyes`` from points: the eye centres, where the points' scheme does not say.

    Raises:
        ValueError: For ``template5`` without 5 points, or another method without either.
    """
    if geometry.method == "template5":
        if points is None or np.shape(points) != (5, 2):
            raise ValueError("a template5 crop needs the 5 template points (5, 2)")
        points = np.asarray(points, dtype=np.float64)
        return align_face(image, points, size, geometry.margin, geometry.template)
    level = geometry.method == "eyes"
    if points is not None:
        return crop_face(image, points, size, geometry.margin, rotate=level, eyes=eyes)
    if box is None:
        raise ValueError(f"a {geometry.method} crop needs landmark points or a box")
    return crop_box(image, box, size, geometry.margin, roll if level else 0.0)
