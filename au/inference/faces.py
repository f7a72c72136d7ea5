"""Face detection and face crops: MTCNN or BlazeFace with landmarks, a Haar cascade, or none.

``mtcnn`` (:mod:`au.inference.mtcnn`) needs its weights fetched once (``python -m au.weights
mtcnn``); never fetched, it falls back to ``haar`` with one warning, while a damaged cache (a
file missing, cut short or with another sha256) is an error naming the file. ``blazeface``
(:mod:`au.inference.blazeface`) needs ``ai-edge-litert`` and ``python -m au.weights
blazeface``; chosen explicitly, either missing is an error saying what to install or run.
``none`` takes every image as one already-cropped face.

The box reported for a face is the square ``1 + 2 * margin`` times the detected box's longer
side, centred on it (:func:`square_box`), clipped to the image. The model's input is cut by the
predict loop with the checkpoint's crop geometry (:func:`au.inference.pipeline.face_geometry`);
:func:`face_crops` cuts that plain square (pixels outside the image black).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from au.alignment import CROP_MARGIN
from au.errors import WeightsNotFetchedError
from au.inference.blazeface_weights import blazeface_weights_dir
from au.inference.mtcnn_weights import mtcnn_weights_dir

log = logging.getLogger(__name__)

FACE_DETECTORS = ("mtcnn", "blazeface", "haar", "none")


@dataclass(frozen=True)
class FaceBox:
    """A face in pixel coordinates: top-left corner, size, the detector's score and landmarks.

    ``landmarks`` (5, 2) are frame pixels (x, y) of the eye centres, nose tip and mouth corners,
    image-left first, where the detector gives them (MTCNN; BlazeFace, whose mouth corners are
    placed beside its mouth centre: :func:`au.inference.blazeface.five_landmarks`), else
    ``None``.
    """

    x: int
    y: int
    w: int
    h: int
    score: float | None = None
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)


def square_box(box: FaceBox, margin: float = CROP_MARGIN) -> FaceBox:
    """The square around ``box``: ``1 + 2 * margin`` times its longer side, same centre."""
    side = max(box.w, box.h) * (1 + 2 * margin)
    centre_x, centre_y = box.x + box.w / 2, box.y + box.h / 2
    left, top = round(centre_x - side / 2), round(centre_y - side / 2)
    side = max(round(side), 1)
    return replace(box, x=left, y=top, w=side, h=side)


def clip_box(box: FaceBox, width: int, height: int) -> FaceBox:
    """``box`` restricted to an image of ``width`` x ``height`` pixels."""
    left, top = min(max(box.x, 0), width), min(max(box.y, 0), height)
    right, bottom = min(max(box.x + box.w, 0), width), min(max(box.y + box.h, 0), height)
    return replace(box, x=left, y=top, w=right - left, h=bottom - top)


def crop_square(image: np.ndarray, square: FaceBox) -> np.ndarray:
    """Cut ``square`` out of ``image`` (H, W[, C]); parts outside the image are black."""
    height, width = image.shape[:2]
    inside = clip_box(square, width, height)
    crop = image[inside.y : inside.y + inside.h, inside.x : inside.x + inside.w]
    pad_top, pad_left = inside.y - square.y, inside.x - square.x
    pad_bottom, pad_right = square.h - inside.h - pad_top, square.w - inside.w - pad_left
    if not any((pad_top, pad_left, pad_bottom, pad_right)):
        return crop
    padded = cv2.copyMakeBorder(
        crop, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_CONSTANT, value=0
    )
    return padded.reshape(square.h, square.w, *image.shape[2:])


def to_gray(image: np.ndarray) -> np.ndarray:
    """A single-channel (H, W) view of an RGB (H, W, 3) or grayscale (H, W[, 1]) image."""
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image.reshape(image.shape[:2])


class HaarFaceDetector:
    """Frontal faces with OpenCV's Haar cascade (shipped in opencv-python; no download).

    Args:
        cascade: A file name in ``cv2.data.haarcascades`` or a path to a cascade XML.
        scale_factor: Image pyramid step of ``detectMultiScale``.
        min_neighbors: Overlapping detections needed to keep a face (higher: fewer, surer).
        min_size: Smallest face side in pixels, in the (downscaled) detection image.
        max_side: Images are downscaled to this longer side for detection (speed); boxes are
            mapped back to full resolution.
    """

    def __init__(
        self,
        cascade: str = "haarcascade_frontalface_default.xml",
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        max_side: int = 640,
    ):
        path = Path(cascade) if Path(cascade).is_file() else Path(cv2.data.haarcascades) / cascade
        self.classifier = cv2.CascadeClassifier(str(path))
        if self.classifier.empty():
            raise FileNotFoundError(f"cannot load Haar cascade {cascade!r} (looked at {path})")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_size, self.max_side = min_size, max_side

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB (H, W, 3) or grayscale (H, W[, 1]) uint8 image, largest first."""
        gray = to_gray(image)
        scale = min(1.0, self.max_side / max(gray.shape))
        if scale < 1:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes, _, weights = self.classifier.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        faces = [
            FaceBox(*(round(float(v) / scale) for v in box), score=float(weight))
            for box, weight in zip(boxes, np.ravel(weights), strict=True)
        ]
        return sorted(faces, key=lambda f: f.w * f.h, reverse=True)


class WholeImageFace:
    """Treats every image as one already-cropped face (``detector=none``)."""

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """The whole image as a single box without a score."""
        height, width = image.shape[:2]
        return [FaceBox(0, 0, width, height)]


class MTCNNFaceDetector:
    """Faces and their 5 landmarks with MTCNN (:class:`au.inference.mtcnn.MTCNN`), largest first.

    Args:
        weights: Folder of the three weight files (default: au's weights cache).
        min_face: Smallest face side searched, in pixels.
        thresholds: Face probability each stage needs (P-, R-, O-Net).
    """

    def __init__(
        self,
        weights: Path | None = None,
        min_face: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    ):
        from au.inference.mtcnn import MTCNN

        self.mtcnn = MTCNN(weights or mtcnn_weights_dir(), min_face, tuple(thresholds))

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB (H, W, 3) or grayscale (H, W[, 1]) uint8 image, largest first."""
        boxes, scores, landmarks = self.mtcnn(image)
        faces = [
            FaceBox(round(x1), round(y1), round(x2 - x1), round(y2 - y1), float(score), marks)
            for (x1, y1, x2, y2), score, marks in zip(boxes, scores, landmarks, strict=True)
        ]
        return sorted(faces, key=lambda f: f.w * f.h, reverse=True)


class BlazeFaceDetector:
    """Faces and their landmarks with BlazeFace (:class:`au.inference.blazeface.BlazeFace`).

    The landmarks' mouth corners are placed beside BlazeFace's mouth centre
    (:func:`au.inference.blazeface.five_landmarks`). Faces come largest first.

    Args:
        weights: Folder of the model files (default: au's weights cache).
        model: ``full`` or ``short`` (192 or 128 px input).
        score_threshold: Face probability a detection needs.
        tiles: 1: the whole frame; 2 or 3: also overlapping windows, for smaller faces.
        threads: LiteRT's CPU threads (``None``: as many as torch uses).
    """

    def __init__(
        self,
        weights: Path | None = None,
        model: str = "full",
        score_threshold: float = 0.5,
        tiles: int = 1,
        threads: int | None = None,
    ):
        import torch

        from au.inference.blazeface import BlazeFace, five_landmarks

        threads = torch.get_num_threads() if threads is None else threads
        weights = weights or blazeface_weights_dir()
        self.blazeface = BlazeFace(weights, model, score_threshold, tiles, threads)
        self.five_landmarks = five_landmarks

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB (H, W, 3) or grayscale (H, W[, 1]) uint8 image, largest first."""
        boxes, scores, keypoints = self.blazeface(image)
        faces = [
            FaceBox(round(x1), round(y1), round(x2 - x1), round(y2 - y1), float(score),
                    self.five_landmarks(points))
            for (x1, y1, x2, y2), score, points in zip(boxes, scores, keypoints, strict=True)
        ]  # fmt: skip
        return sorted(faces, key=lambda f: f.w * f.h, reverse=True)


def build_face_detector(name: str, **options) -> Callable[[np.ndarray], list[FaceBox]]:
    """The face detector called ``name`` (one of :data:`FACE_DETECTORS`) with its options.

    ``mtcnn`` whose weights were never fetched warns once and gives the Haar detector (with its
    default options).

    Raises:
        PretrainedWeightsError: For ``mtcnn`` or ``blazeface`` with a damaged weights cache (a
            file missing, cut short or with another sha256), naming the file and how to fetch
            it again; for ``blazeface`` never fetched (:class:`~au.errors.
            WeightsNotFetchedError`).
        MissingPackageError: For ``blazeface`` without ``ai-edge-litert``.
    """
    if name == "mtcnn":
        try:
            return MTCNNFaceDetector(**options)
        except WeightsNotFetchedError as err:
            log.warning("detector=mtcnn unavailable (%s); using detector=haar", err)
            return HaarFaceDetector()
    if name == "blazeface":
        return BlazeFaceDetector(**options)
    if name == "haar":
        return HaarFaceDetector(**options)
    if name in ("none", None):
        return WholeImageFace()
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(FACE_DETECTORS)}")


def face_crops(
    image: np.ndarray, faces: list[FaceBox], margin: float = CROP_MARGIN, square: bool = True
) -> tuple[list[FaceBox], list[np.ndarray]]:
    """Crops of ``faces`` and their boxes as reported (the square clipped to the image).

    With ``square=False`` (whole-image faces) the box is cropped as it is.
    """
    height, width = image.shape[:2]
    boxes, crops = [], []
    for face in faces:
        region = square_box(face, margin) if square else face
        boxes.append(clip_box(region, width, height))
        crops.append(crop_square(image, region))
    return boxes, crops
