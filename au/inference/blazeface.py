"""BlazeFace (Bazarevsky et al. 2019): MediaPipe's single-shot face detector with 6 keypoints.

One small network looks at the whole frame, letterboxed (scaled to fit, centred, black bars)
into a square input with pixels in [-1, 1], and scores a fixed grid of SSD anchors. For each
anchor it gives a face score (a logit) and 16 numbers: the box centre offset and size, then 6
keypoints (the face's right eye, left eye, nose tip, mouth centre, right and left ear
tragion), all in input pixels relative to the anchor's centre. Scores above the threshold are
merged by MediaPipe's weighted non-maximum suppression: overlapping detections (IoU above 0.3)
become one whose box and keypoints are their score-weighted mean. Two models
(:mod:`au.inference.blazeface_weights`):

- ``short``: 128 x 128 input, 896 anchors (16 x 16 cells of stride 8 with 2 anchors each, 8 x 8
  of stride 16 with 6), faces that fill a good part of the frame (a front camera);
- ``full``: 192 x 192 input, 2304 anchors (48 x 48 cells of stride 4, one each), smaller faces.

The models run in LiteRT (``ai-edge-litert``, imported on first use).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from au.alignment import ARCFACE_TEMPLATE
from au.errors import ConfigValueError, MissingPackageError
from au.inference.blazeface_ssd import (
    BlazeFaceModel,
    decode,
    sigmoid_scores,
    ssd_anchors,
    weighted_nms,
)
from au.inference.blazeface_weights import (
    FULL_RANGE,
    SHORT_RANGE,
    check_blazeface_weights,
)

KEYPOINT_NAMES = ("right eye", "left eye", "nose tip", "mouth centre", "right ear", "left ear")
#: Mouth width over eye distance in the ArcFace template (about 0.83): where the 5-point
#: landmarks' mouth corners are put, on either side of BlazeFace's mouth centre.
MOUTH_TO_EYES = float(
    np.linalg.norm(ARCFACE_TEMPLATE[4] - ARCFACE_TEMPLATE[3])
    / np.linalg.norm(ARCFACE_TEMPLATE[1] - ARCFACE_TEMPLATE[0])
)
MODELS = {
    "short": BlazeFaceModel(SHORT_RANGE, 128, ((8, 2), (16, 6))),
    "full": BlazeFaceModel(FULL_RANGE, 192, ((4, 1),)),
}


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, np.ndarray]:
    """The model input of an RGB or grayscale uint8 image, and how to map points back.

    Returns:
        The input (1, size, size, 3) float32 in [-1, 1]; the scale (input pixels per image
        pixel); the offset (2,) of the image's top-left corner in the input, in input pixels.
    """
    rgb = image.reshape(*image.shape[:2], -1)[:, :, :3]
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(round(width * scale), 1), max(round(height * scale), 1)
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), -1.0, np.float32)  # black bars, as MediaPipe's
    canvas[top : top + new_h, left : left + new_w] = resized / 127.5 - 1.0
    return canvas[None], scale, np.array([left, top], np.float64)


def litert_interpreter() -> type:
    """LiteRT's ``Interpreter`` class.

    Raises:
        MissingPackageError: If ``ai-edge-litert`` is not installed.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise MissingPackageError(
            "detector=blazeface needs the LiteRT runtime: pip install ai-edge-litert "
            "(or au's extra: pip install -e .[blazeface])"
        ) from None
    return Interpreter


class BlazeFace:
    """Faces with their 6 keypoints in an RGB image, in image pixels, best first.

    Args:
        weights: Folder of the model files (checked by sha256 before loading).
        model: ``full`` (192 px input: faces of 12 % of the frame's longer side and more) or
            ``short`` (128 px: 25 % and more); see :data:`MODELS`.
        score_threshold: Face probability a detection needs.
        tiles: 1: the whole frame only; 2 or 3: also windows 1.25 / ``tiles`` of the frame's
            longer side (:func:`tile_windows`), for smaller faces (``full``: down to about 7 %
            or 5 % of it; each window costs one more pass).
        threads: LiteRT's CPU threads (``None``: its own choice).

    Raises:
        MissingPackageError: If ``ai-edge-litert`` is not installed.
        WeightsNotFetchedError: If the models were never fetched.
        PretrainedWeightsError: If a model file is missing, cut short or another.
    """

    def __init__(
        self,
        weights: Path,
        model: str = "full",
        score_threshold: float = 0.5,
        tiles: int = 1,
        threads: int | None = None,
    ):
        if model not in MODELS:
            raise ConfigValueError(f"BlazeFace model {model!r}: choose one of {', '.join(MODELS)}")
        interpreter = litert_interpreter()
        check_blazeface_weights(Path(weights))
        self.model, self.score_threshold, self.tiles = MODELS[model], score_threshold, tiles
        self.anchors = ssd_anchors(self.model)
        path = Path(weights) / self.model.file
        self.interpreter = interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda o: o["shape"][-1])
        self.score_index, self.regressor_index = (o["index"] for o in outputs)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (K, 4) ``x1, y1, x2, y2``, scores (K,), keypoints (K, 6, 2) in image pixels.

        Found in the whole image and in its tiles, merged.
        """
        found = [self.detect_once(image)]
        for x, y, side in tile_windows(*image.shape[:2], self.tiles):
            boxes, scores, keypoints = self.detect_once(image[y : y + side, x : x + side])
            found.append((boxes + [x, y, x, y], scores, keypoints + [x, y]))
        if len(found) == 1:
            return found[0]
        return weighted_nms(*(np.concatenate(part) for part in zip(*found, strict=True)))

    def detect_once(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, scores and keypoints of one pass of the model over all of ``image``."""
        size = self.model.input_size
        tensor, scale, offset = letterbox(image, size)
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressor_index)[0]  # (N, 16)
        scores = sigmoid_scores(self.interpreter.get_tensor(self.score_index)[0, :, 0])
        keep = scores >= self.score_threshold
        boxes, keypoints = decode(raw[keep], self.anchors[keep], size)
        boxes, scores, keypoints = weighted_nms(boxes, scores[keep], keypoints)
        boxes = (boxes.reshape(-1, 2, 2) * size - offset) / scale
        return boxes.reshape(-1, 4), scores, (keypoints * size - offset) / scale


def five_landmarks(keypoints: np.ndarray) -> np.ndarray:
    """The 5 landmarks au uses (5, 2) from BlazeFace's 6 keypoints (6, 2).

    Eyes (the face's right eye is the image-left one), nose tip, then two mouth corners that
    BlazeFace does not give: placed on either side of its mouth centre, parallel to the eye
    line, as far apart as the ArcFace template's (:data:`MOUTH_TO_EYES` of the eye distance),
    so the 5-point alignment and head pose can use them.
    """
    right_eye, left_eye, nose, mouth = np.asarray(keypoints, np.float64)[:4]
    half_mouth = (left_eye - right_eye) * MOUTH_TO_EYES / 2
    return np.stack([right_eye, left_eye, nose, mouth - half_mouth, mouth + half_mouth])


def tile_windows(height: int, width: int, tiles: int) -> list[tuple[int, int, int]]:
    """Square windows ``(x, y, side)`` that cover an image, for ``tiles`` > 1.

    Each is 1.25 / ``tiles`` of the image's longer side (at most its shorter side), so
    neighbours overlap by at least a quarter and a face near a seam is whole in one of them.
    """
    if tiles <= 1:
        return []
    side = min(round(1.25 * max(height, width) / tiles), height, width)

    def starts(length: int) -> np.ndarray:
        count = int(np.ceil((length - side) / (0.75 * side))) + 1
        return np.linspace(0, length - side, count).round().astype(int)

    return [(int(x), int(y), side) for y in starts(height) for x in starts(width)]
