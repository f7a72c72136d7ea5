"""SSD decoding of BlazeFace's outputs: anchors, boxes and keypoints, scores, weighted NMS.

The arithmetic of MediaPipe's SSD anchor and tensors-to-detections calculators for the face
detection models, in numpy (:mod:`au.inference.blazeface` runs the models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Raw scores are clipped to this magnitude before the sigmoid (MediaPipe's setting).
SCORE_CLIP = 100.0
#: Detections overlapping more than this (IoU) are merged.
MERGE_IOU = 0.3


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace model: its file, square input side and anchor layers.

    Attributes:
        file: The ``.tflite`` file's name in the weights folder.
        input_size: Side of the square input in pixels.
        layers: ``(stride, anchors per cell)`` of each feature map, in output order.
    """

    file: str
    input_size: int
    layers: tuple[tuple[int, int], ...]


def ssd_anchors(model: BlazeFaceModel) -> np.ndarray:
    """Anchor centres (N, 2) as fractions of the input, x then y; rows before columns.

    Every anchor of these models has the input's size (MediaPipe's ``fixed_anchor_size``), so
    offsets are scaled by the input side alone.
    """
    centres = []
    for stride, per_cell in model.layers:
        cells = model.input_size // stride
        steps = (np.arange(cells) + 0.5) / cells
        grid_y, grid_x = np.meshgrid(steps, steps, indexing="ij")
        points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)  # (cells^2, 2)
        centres.append(np.repeat(points, per_cell, axis=0))
    return np.concatenate(centres)


def decode(raw: np.ndarray, anchors: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) ``x1, y1, x2, y2`` and keypoints (N, 6, 2), as fractions of the input.

    Args:
        raw: The regressor output (N, 16): centre offset x, y, width, height, then 6 (x, y)
            keypoint offsets, all in input pixels.
        anchors: Anchor centres (N, 2), fractions of the input.
        input_size: Side of the input in pixels.
    """
    values = raw.reshape(len(raw), 8, 2) / input_size  # (N, 8, 2)
    centre, size = values[:, 0] + anchors, values[:, 1]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return boxes, values[:, 2:] + anchors[:, None]


def sigmoid_scores(raw: np.ndarray) -> np.ndarray:
    """Face probabilities (N,) of raw scores (N,), clipped to +-:data:`SCORE_CLIP` first."""
    clipped = np.clip(np.asarray(raw, np.float64), -SCORE_CLIP, SCORE_CLIP)
    return 1.0 / (1.0 + np.exp(-clipped))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union (M,) of one ``x1, y1, x2, y2`` box (4,) with boxes (M, 4)."""
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou: float = MERGE_IOU
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping detections, best first (MediaPipe's weighted NMS).

    The best remaining detection takes every remaining one overlapping it by more than ``iou``;
    the merged box and keypoints are their score-weighted means, its score the best one's.

    Returns:
        Boxes (K, 4), scores (K,), keypoints (K, 6, 2).
    """
    order = np.argsort(-scores, kind="stable")
    merged = ([], [], [])
    while len(order):
        overlap = box_iou(boxes[order[0]], boxes[order])
        overlap[0] = 1.0  # the best is in its own group, even as an empty box
        members, order = order[overlap > iou], order[overlap <= iou]
        weights = scores[members] / scores[members].sum()
        merged[0].append(np.tensordot(weights, boxes[members], axes=1))
        merged[1].append(scores[members[0]])
        merged[2].append(np.tensordot(weights, keypoints[members], axes=1))
    if not merged[1]:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2))
    return np.stack(merged[0]), np.array(merged[1]), np.stack(merged[2])
