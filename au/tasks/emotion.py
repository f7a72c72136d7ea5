"""Emotion (``task=emotion``): one softmax head over the index's ``emotion`` column.

The head is the paper's AU head (BatchNorm → ReLU → Dropout → Linear) with one output per
class; the loss is cross-entropy over the frames that carry a label (an empty cell or ``other``
is -1 and never counts). Validation logs accuracy, balanced accuracy and macro-F1; the
checkpoint monitor is ``val/macro_f1`` (``configs/task/emotion.yaml``). The data need no AU
label (FER-2013 codes none).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from au.data.datamodule import split_frames
from au.data.index import IndexFormatError
from au.emotions import BASIC_EMOTIONS, parse_emotion
from au.evaluation.emotion import EmotionEvaluator
from au.evaluation.emotion_metrics import emotion_metrics
from au.losses.cross_entropy import MaskedCrossEntropy
from au.tasks.base import Task, log_scores
from au.tasks.head import AUHead
from au.tasks.registry import register_task

NOT_SUBJECT_INDEPENDENT = (
    "This split is NOT subject-independent (the data set has no subject ids; index.json "
    "subject_independent: false)"
)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """``N / (C n_c)`` per class from training labels (-1 ignored); an absent class gets 0.

    Every class then carries the same total weight in the loss, as scikit-learn's
    ``class_weight="balanced"``.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0].astype(int), minlength=num_classes).astype(float)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


@register_task("emotion")
class EmotionTask(Task):
    """``task=emotion``: classify each face into one of ``emotions``.

    Args:
        emotions: Class names in output order (synonyms such as ``happy`` accepted).
        label_smoothing: Cross-entropy label smoothing (0: none).
        class_balanced: Weight each class's frames by ``N / (C n_c)`` of the training labels,
            so a rare class (contempt, fear) counts as much as a frequent one (neutral).
    """

    name = "emotion"
    headline = "macro_f1"
    needs_au_labels = False
    stored_keys = ("emotion_logits", "emotion")
    inference_names = ("emotion_probabilities",)
    output_meanings = {"emotion_probabilities": "float32: softmax over the emotion classes"}

    def __init__(
        self,
        emotions: Sequence[str] = BASIC_EMOTIONS,
        label_smoothing: float = 0.0,
        class_balanced: bool = False,
    ):
        self.classes = [parse_emotion(e) for e in emotions]
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"task.emotions={list(emotions)}: need 2 or more distinct emotions")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"task.label_smoothing={label_smoothing}: expected a value in [0, 1)")
        self.class_balanced = class_balanced
        self.loss_fn = MaskedCrossEntropy(label_smoothing)

    def build_loss(self, config: Mapping | None) -> nn.Module:
        """The task's own ``cross_entropy``; ``model.loss`` is not read."""
        return self.loss_fn

    def init_from_data(self, module, datamodule) -> None:
        """Class weights from the training labels (``class_balanced``); also on resume."""
        if self.class_balanced:
            labels = datamodule.datasets["train"].targets["emotion"]
            self.loss_fn.class_weights = balanced_class_weights(labels, len(self.classes))

    def targets(self, index, aus: list[str]) -> dict[str, np.ndarray]:
        """Class index ``emotion`` (N,) of every row, -1 where unlabelled."""
        return {"emotion": index.emotion_labels(self.classes)}

    def check_targets(self, targets: Mapping[str, np.ndarray], where: str) -> None:
        """Raise :class:`~au.data.index.IndexFormatError` if no row carries one of the classes."""
        if not (np.asarray(targets["emotion"]) >= 0).any():
            raise IndexFormatError(
                f"the data ({where}) has no emotion label among {self.classes}: task={self.name} "
                "needs an index with an `emotion` column (e.g. data=synthetic or data=fer2013)"
            )

    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """The paper's head with one logit per class (B, C)."""
        return AUHead(in_features, len(self.classes), **options)

    def loss(self, module, outputs: torch.Tensor, batch: dict) -> torch.Tensor:
        """Cross-entropy over the labelled frames of the batch."""
        return self.loss_fn(outputs, batch["emotion"])

    def stored(self, module, outputs: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """Class logits (B, C) and class indices (B,)."""
        return {"emotion_logits": outputs, "emotion": batch["emotion"]}

    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Log accuracy, balanced accuracy and macro-F1 of the labelled validation frames."""
        log_scores(module, "val", self.scores(out), self.headline)

    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log the test scores; the evaluator reads ``out``."""
        log_scores(module, "test", self.scores(out), self.headline)
        return out

    def scores(self, out: dict[str, torch.Tensor]) -> dict[str, float]:
        """Accuracy, balanced accuracy and macro-F1 (NaN without a labelled frame)."""
        target = out["emotion"].reshape(-1).long()
        labelled = target >= 0
        if not bool(labelled.any()):
            return {"macro_f1": math.nan}
        truth = [self.classes[i] for i in target[labelled].tolist()]
        guess = [self.classes[i] for i in out["emotion_logits"][labelled].argmax(-1).tolist()]
        summary = emotion_metrics(truth, guess, classes=self.classes).summary()
        return {k: summary[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")}

    def evaluator(self, module, datamodule, split: str, figure_dir=None) -> EmotionEvaluator:
        """The emotion evaluator (beside the majority class of the training labels)."""
        return self.emotion_evaluator(datamodule, split, None, figure_dir)

    def inference_outputs(self, module, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """``emotion_probabilities`` (B, C): the softmax of the class logits."""
        return {"emotion_probabilities": torch.softmax(outputs, dim=-1)}

    def output_labels(self, aus: Sequence[str]) -> dict[str, list[str]]:
        """The emotion classes, in output order."""
        return {"emotion_probabilities": list(self.classes)}

    def emotion_evaluator(self, datamodule, split: str, readout, figure_dir) -> EmotionEvaluator:
        """The emotion evaluator, with the AU read-out ``(aus, thresholds)`` when given."""
        independent = datamodule.index.meta.get("subject_independent", True)
        return EmotionEvaluator(
            self.classes,
            train_labels=datamodule.datasets["train"].targets["emotion"],
            frames=split_frames(datamodule, split),
            readout=readout,
            note="" if independent else NOT_SUBJECT_INDEPENDENT,
            figure_dir=figure_dir,
        )


class _LabelsFromIndex:
    """Gives an evaluator each sample's emotion class from the index (the model predicts none).

    Args:
        evaluator: The :class:`EmotionEvaluator` (without an emotion head).
        labels: Class index (N,) of every sample of the split, -1 where unlabelled.
    """

    def __init__(self, evaluator: EmotionEvaluator, labels: np.ndarray):
        self.evaluator, self.labels = evaluator, torch.as_tensor(labels).long()

    def reset(self) -> None:
        """Forget every prediction processed so far."""
        self.evaluator.reset()

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Add the samples' emotion labels (by ``ids``) to ``outputs`` and pass them on."""
        ids = torch.as_tensor(outputs["ids"]).long().cpu()
        self.evaluator.process({**outputs, "emotion": self.labels[ids]})

    def evaluate(self):
        """The evaluator's result."""
        return self.evaluator.evaluate()


def readout_evaluator(module, datamodule, split: str, figure_dir=None):
    """Scores an AU model's emotion read-out on a split whose index has emotion labels.

    For ``task=au`` on data that carry the expression (the synthetic set, FER-style sets with
    AU codes): the read-out (both rules; the calibrated one with the model's tuned thresholds)
    beside the majority class, on the :data:`BASIC_EMOTIONS`.

    Returns:
        An evaluator taking the AU task's outputs (``logits``, ``ids``), or ``None`` when the
        index has no ``emotion`` column, no label among the classes, or none in the split.
    """
    index = datamodule.index
    if "emotion" not in index.table.columns:
        return None
    try:
        labels = index.emotion_labels(list(BASIC_EMOTIONS))
    except IndexFormatError:  # labels outside the basic emotions: no read-out report
        return None
    train, scored = labels[datamodule.rows["train"]], labels[datamodule.rows[split]]
    if not (scored >= 0).any():
        return None
    evaluator = EmotionEvaluator(
        BASIC_EMOTIONS,
        train_labels=train,
        frames=split_frames(datamodule, split),
        readout=(module.aus, module.task_state.thresholds.detach().cpu()),
        figure_dir=figure_dir,
        has_head=False,
    )
    return _LabelsFromIndex(evaluator, scored)
