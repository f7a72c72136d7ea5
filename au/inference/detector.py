"""AUDetector: a trained checkpoint mapping face crops to AU probabilities, decisions, emotions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from au.data.transforms import eval_transform, normalization
from au.inference.runtime import TorchRuntime, build_runtime
from au.models.module import AULitModule
from au.tasks.emotion_readout import EMOTIONS, emotion_scores, format_coverage, predict_emotion

log = logging.getLogger(__name__)


@dataclass
class FacePredictions:
    """Predictions for N faces of a model with A AUs, scored on E emotions."""

    probabilities: np.ndarray  # (N, A) sigmoid outputs
    decisions: np.ndarray  # (N, A) bool: probability > the AU's validation-tuned threshold
    emotion_scores: np.ndarray  # (N, E), NaN for emotions the model cannot express
    top_emotions: np.ndarray  # (N,) names of the best-scoring expressible emotion

    def __len__(self) -> int:
        return len(self.probabilities)

    def select(self, rows: slice) -> FacePredictions:
        """The predictions of a slice of the faces."""
        return FacePredictions(
            self.probabilities[rows],
            self.decisions[rows],
            self.emotion_scores[rows],
            self.top_emotions[rows],
        )


class AUDetector:
    """A trained AU detector applied to face crops, preprocessed exactly as in evaluation.

    Args:
        model: A trained :class:`AULitModule` (its ``thresholds`` and ``data_config`` are used).
        device: Torch device to run on.
        emotions: Emotions to score from the AU probabilities (:mod:`au.tasks.emotion_readout`).
        runtime: Maps normalised crops (N, C, H, W) to probabilities (N, A)
            (:mod:`au.inference.runtime`); ``None``: the PyTorch model on ``device``.
        clahe: Contrast-normalise crops (CLAHE); ``None``: as the model was trained.
    """

    def __init__(
        self,
        model: AULitModule,
        device: str = "cpu",
        emotions: Sequence[str] = EMOTIONS,
        runtime=None,
        clahe: bool | None = None,
    ):
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.runtime = runtime or TorchRuntime(self.model, device)
        self.aus: list[str] = list(model.aus)
        self.thresholds = model.thresholds.detach().cpu().numpy().astype(np.float64)  # (A,)
        self.data_config = dict(model.hparams.data_config)
        self.image_size = int(self.data_config["image_size"])
        self.channels = int(self.data_config["channels"])
        self.emotions = list(emotions)
        self.clahe = bool(self.data_config.get("clahe", False) if clahe is None else clahe)
        self.transform = eval_transform(self.image_size, self.channels, self.clahe)
        _check_normalization(self.data_config, self.channels)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "cpu",
        runtime: str = "torch",
        threads: int | None = None,
        **options,
    ) -> AUDetector:
        """Load a checkpoint written by ``au.fit`` (no ImageNet weights needed).

        ``runtime="onnx"`` runs the model exported beside the checkpoint in ONNX Runtime
        (exported and parity-checked on first use, see :mod:`au.inference.runtime`).
        """
        model = AULitModule.load_detector(path, map_location=device)
        engine = build_runtime(runtime, model, Path(path).expanduser(), device, threads)
        return cls(model, device, runtime=engine, **options)

    def coverage(self) -> str:
        """Which emotions this model's AUs can express.

        See :func:`au.tasks.emotion_readout.format_coverage`.
        """
        return format_coverage(self.aus, self.emotions)

    def preprocess(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """Normalised model input (N, C, H, W) from uint8 RGB or grayscale face crops."""
        tensors = [self.transform(image=self.to_model_channels(c))["image"] for c in crops]
        if not tensors:
            return torch.empty(0, self.channels, self.image_size, self.image_size)
        return torch.stack(tensors).to(self.device)

    def to_model_channels(self, crop: np.ndarray) -> np.ndarray:
        """An RGB (H, W, 3) or grayscale (H, W[, 1]) crop in the model's channel layout."""
        gray = crop.ndim == 2 or crop.shape[2] == 1
        if self.channels == 1:
            return (crop if gray else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)).reshape(
                *crop.shape[:2], 1
            )
        return cv2.cvtColor(crop.reshape(crop.shape[:2]), cv2.COLOR_GRAY2RGB) if gray else crop

    def probabilities(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """AU probabilities (N, A) of face crops."""
        if len(crops) == 0:
            return np.empty((0, len(self.aus)), dtype=np.float32)
        images = [self.transform(image=self.to_model_channels(c))["image"] for c in crops]
        return self.runtime(torch.stack(images).numpy())

    def predict(self, crops: Sequence[np.ndarray]) -> FacePredictions:
        """Probabilities, thresholded decisions and emotion scores of face crops."""
        return self.from_probabilities(self.probabilities(crops))

    def from_probabilities(self, probabilities: np.ndarray) -> FacePredictions:
        """Decisions and emotions for AU probabilities (N, A) of this model."""
        decisions = probabilities > self.thresholds  # (N, A)
        scores = np.asarray(emotion_scores(probabilities, self.aus, self.emotions))  # (N, E)
        top = predict_emotion(probabilities, self.aus, self.emotions)  # (N,)
        return FacePredictions(probabilities, decisions, scores, top)


def _check_normalization(data_config: dict, channels: int) -> None:
    mean, std = normalization(channels)
    saved = (tuple(data_config.get("mean", mean)), tuple(data_config.get("std", std)))
    if not (np.allclose(saved[0], mean) and np.allclose(saved[1], std)):
        log.warning(
            "checkpoint data_config mean/std %s differ from au's eval_transform %s; "
            "predictions use eval_transform",
            saved,
            (mean, std),
        )
