"""AUDetector: a trained checkpoint of any task applied to face crops.

What a face gets follows the checkpoint's task (:meth:`au.tasks.base.Task.inference_outputs`):

- ``task=au``: AU probabilities and decisions (probability > the AU's validation-tuned
  threshold); emotions from the AU read-out.
- ``task=intensity``: AU intensities on 0-5 and decisions (intensity >= the training data's
  positive threshold, :func:`au.inference.runtime.occurrence_threshold_of`); emotions from the
  AU read-out with ``intensity / 5`` as each AU's probability and ``threshold / 5`` as its
  threshold (so an AU counts for an emotion from the intensity at which it counts as present).
- ``task=emotion``: the emotion head's class probabilities; no AU output, no read-out.
- ``task=joint``: AU probabilities and decisions, the emotion head's probabilities, and the AU
  read-out beside them (``readout_*``).

The AU read-out is :func:`au.emotions.readout.emotion_scores` with ``rule="calibrated"``
and the model's own thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from au.alignment import CropGeometry
from au.data.transforms import eval_transform
from au.emotions import EMOTIONS
from au.emotions.readout import (
    DEFAULT_MIN_COVERAGE,
    emotion_scores,
    format_coverage,
    predict_emotion,
)
from au.inference.onnx_torchscript import DECIDED_FROM, DECISIONS
from au.inference.records import FacePredictions, PredictionLayout
from au.inference.runtime import (
    TorchRuntime,
    au_probabilities,
    build_runtime,
    occurrence_threshold_of,
)
from au.losses.intensity import MAX_INTENSITY
from au.models.module import AULitModule
from au.models.preprocessing import checkpoint_normalization
from au.tasks.decision import au_thresholds
from au.tasks.intensity import IntensityTask

#: The scoring rule of the AU read-out.
READOUT_RULE = "calibrated"

#: The outputs au.predict writes in their own columns (p_, i_, emotion_, the decisions); any
#: other output of a task is written as ``<output>_<label>`` columns.
KNOWN_OUTPUTS = ("au_probabilities", "intensities", "emotion_probabilities", DECISIONS)


class AUDetector:
    """A trained model of any task applied to face crops, preprocessed exactly as in evaluation.

    Args:
        model: A trained :class:`AULitModule` (its task, ``thresholds`` and ``data_config``,
            whose ``crop_geometry`` says how faces are to be cut).
        device: Torch device to run on.
        emotions: Emotions the AU read-out scores (:mod:`au.emotions.readout`).
        runtime: Maps normalised crops (N, C, H, W) to the task's named outputs
            (:mod:`au.inference.runtime`); ``None``: the PyTorch model on ``device``.
        clahe: Contrast-normalise crops (CLAHE); ``None``: as the model was trained.
        occurrence_threshold: Intensity at or above which an intensity model's AU is present
            (``None``: :attr:`~au.tasks.intensity.IntensityTask.default_occurrence_threshold`).
        renders_template: A model trained on the synthetic renders that records their mean 5
            points: cut faces onto that template (``True``) or onto ArcFace's, as before
            (``False``); other models are unaffected.
    """

    def __init__(
        self,
        model: AULitModule,
        device: str = "cpu",
        emotions: Sequence[str] = EMOTIONS,
        runtime=None,
        clahe: bool | None = None,
        occurrence_threshold: float | None = None,
        renders_template: bool = True,
    ):
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.aus: list[str] = list(model.aus)
        if occurrence_threshold is None:
            occurrence_threshold = IntensityTask.default_occurrence_threshold
        self.occurrence_threshold = float(occurrence_threshold)
        self.runtime = runtime or TorchRuntime(self.model, device, self.occurrence_threshold)
        self.thresholds = au_thresholds(model).numpy().astype(np.float64)  # (A,)
        self.data_config = dict(model.hparams.data_config)
        self.image_size = int(self.data_config["image_size"])
        self.channels = int(self.data_config["channels"])
        self.clahe = bool(self.data_config.get("clahe", False) if clahe is None else clahe)
        #: The backbone's normalisation the model was trained with (ImageNet's for old files).
        self.mean, self.std = checkpoint_normalization(self.data_config, self.channels)
        self.transform = eval_transform(
            self.image_size, self.channels, self.clahe, self.mean, self.std
        )
        #: How the training crops were cut, for the predict loop to cut faces alike (``None``:
        #: not recorded, or not a geometry au cuts, e.g. the synthetic renders).
        self.crop_geometry = CropGeometry.from_dict(self.data_config.get("crop_geometry"))
        if not renders_template and self.crop_geometry and self.crop_geometry.template:
            self.crop_geometry = None  # cut as for a model that records no geometry au cuts
        self._plan_outputs(self.runtime.output_names, emotions)

    def _plan_outputs(self, names: Sequence[str], emotions: Sequence[str]) -> None:
        """Where emotions come from, and the columns of this model's rows."""
        labels = self.model.task.output_labels(self.aus)
        self.head_emotions = labels.get("emotion_probabilities")  # None: no emotion head
        #: The output the AU read-out scores (``None``: no AU output, no read-out).
        self.readout_from = next((n for n in DECIDED_FROM if n in names), None)
        self.readout_emotions = list(emotions) if self.readout_from else []
        #: The ``emotion_<name>`` columns: the head's classes, else the read-out's emotions.
        self.emotions: list[str] = list(self.head_emotions or self.readout_emotions)
        #: A task's own outputs (not AU, intensity, emotion or decisions), by their labels.
        self.other_outputs = tuple(
            (name, tuple(labels[name])) for name in names if name not in KNOWN_OUTPUTS
        )
        self.layout = PredictionLayout(
            aus=tuple(self.aus),
            au_probabilities="au_probabilities" in names,
            intensities="intensities" in names,
            au_decisions=DECISIONS in names,
            emotions=tuple(self.emotions),
            readout_emotions=tuple(self.readout_emotions) if self.head_emotions else (),
            other=self.other_outputs,
        )

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
        path = Path(path).expanduser()
        model = AULitModule.load_detector(path, map_location=device)
        threshold = occurrence_threshold_of(path, model)
        engine = build_runtime(runtime, model, path, device, threads, threshold)
        return cls(model, device, runtime=engine, occurrence_threshold=threshold, **options)

    @property
    def emotion_source(self) -> str:
        """Where ``emotion_*`` and ``top_emotion`` come from, in words."""
        readout = {
            "au_probabilities": "the AU read-out (calibrated rule, the model's tuned thresholds)",
            "intensities": "the AU read-out of the intensities (calibrated rule, intensity / 5 "
            f"against {self.occurrence_threshold:g} / 5)",
        }.get(self.readout_from, "")
        if self.head_emotions:
            beside = f"; readout_* columns: {readout}" if readout else ""
            return f"emotions from the model's emotion head{beside}"
        return f"emotions from {readout}"

    def coverage(self) -> str | None:
        """Which emotions the AU read-out can express and scores; ``None`` without a read-out.

        The prototype coverage of :func:`au.emotions.readout.format_coverage`, then the
        emotions the calibrated rule scores (one needs a full-weight prototype AU).
        """
        if not self.readout_from:
            return None
        minimum = DEFAULT_MIN_COVERAGE[READOUT_RULE]
        text = format_coverage(self.aus, self.readout_emotions, min_coverage=minimum)
        lines = [line for line in text.splitlines() if not line.startswith("- neutral:")]
        probe = np.full((1, len(self.aus)), 0.5)
        scores = emotion_scores(probe, self.aus, self.readout_emotions, rule=READOUT_RULE)[0]
        scored = [e for e, s in zip(self.readout_emotions, scores, strict=True) if s == s]
        unscored = [e for e in self.readout_emotions if e not in scored]
        lines.append(f"The {READOUT_RULE} read-out scores {', '.join(scored)}")
        if unscored:
            lines[-1] += f"; not {', '.join(unscored)} (none of its full-weight AUs is here)"
        return "\n".join(lines)

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

    def outputs(self, crops: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """The task's named outputs (each (N, ...)) of face crops (see the module docstring)."""
        if len(crops) == 0:
            labels = self.model.task.output_labels(self.aus) | {DECISIONS: self.aus}
            return {
                name: np.empty((0, len(labels[name])), bool if name == DECISIONS else np.float32)
                for name in self.runtime.output_names
            }
        return self.runtime.outputs(self.preprocess(crops).cpu().numpy())

    def probabilities(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """AU probabilities (N, A) of face crops (an AU occurrence model: task au or joint)."""
        return au_probabilities(self.outputs(crops))

    def predict(self, crops: Sequence[np.ndarray]) -> FacePredictions:
        """Everything the model says about face crops: AUs and emotions."""
        return self.from_outputs(self.outputs(crops))

    def from_outputs(self, outputs: dict[str, np.ndarray]) -> FacePredictions:
        """Emotions beside the AU outputs, from the named outputs of this model."""
        readout = self.readout(outputs)
        if self.head_emotions:
            scores = outputs["emotion_probabilities"]  # (N, C)
            top = np.asarray(self.head_emotions)[scores.argmax(-1)] if len(scores) else []
            extra = {"readout_scores": readout[0], "readout_emotions": readout[1]}
        else:
            (scores, top), extra = readout, {}
        count = len(next(iter(outputs.values()))) if outputs else 0
        return FacePredictions(
            scores,
            np.asarray(top if top is not None else [None] * count, dtype=object),
            au_probabilities=outputs.get("au_probabilities"),
            au_decisions=outputs.get(DECISIONS),
            intensities=outputs.get("intensities"),
            **extra,
            other={name: outputs[name] for name, _ in self.other_outputs},
        )

    def readout(self, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray | None, ...]:
        """The AU read-out's scores (N, E) and best emotions (N,); ``None`` without AU outputs."""
        if self.readout_from is None:
            return None, None
        evidence, thresholds = self.readout_evidence(outputs)
        options = dict(rule=READOUT_RULE, thresholds=thresholds)
        scores = np.asarray(emotion_scores(evidence, self.aus, self.readout_emotions, **options))
        top = predict_emotion(evidence, self.aus, self.readout_emotions, **options)
        return scores, top

    def readout_evidence(self, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """What the read-out scores, as probabilities (N, A), and its thresholds (A,)."""
        if self.readout_from == "au_probabilities":
            return outputs["au_probabilities"], self.thresholds
        cut = np.full(len(self.aus), self.occurrence_threshold / MAX_INTENSITY)
        return outputs["intensities"] / MAX_INTENSITY, cut
