"""AU + emotion (``task=joint``): two heads on one backbone.

Each loss is masked where its label is missing:
``loss = AU loss + task.emotion_weight * emotion cross-entropy``.

The AU half is :class:`~au.tasks.au.AUTask` (``model.loss``, decisions tuned on validation),
the emotion half :class:`~au.tasks.emotion.EmotionTask`. The record holds both reports, and
the emotion report scores the AU head's read-out (both rules) on the same faces beside the
learned emotion head. The checkpoint monitor is ``val/macro_f1`` (``configs/task/joint.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from au.emotions import BASIC_EMOTIONS
from au.evaluation.evaluator import CombinedEvaluator
from au.evaluation.occurrence import AUOccurrenceEvaluator
from au.tasks.au import AUTask
from au.tasks.base import Task
from au.tasks.emotion import EmotionTask
from au.tasks.head import AUHead
from au.tasks.registry import register_task


class JointHead(nn.Module):
    """An AU head (B, A) and an emotion head (B, C) on the same pooled features."""

    def __init__(self, in_features: int, num_aus: int, num_classes: int, dropout: float = 0.2):
        super().__init__()
        self.au = AUHead(in_features, num_aus, dropout)
        self.emotion = AUHead(in_features, num_classes, dropout)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"au": logits (B, A), "emotion": logits (B, C)}``."""
        return {"au": self.au(features), "emotion": self.emotion(features)}


@register_task("joint")
class JointTask(Task):
    """``task=joint``: AU occurrence and emotion trained together.

    Args:
        emotions: Emotion classes in output order.
        emotion_weight: Weight of the emotion cross-entropy against the AU loss.
    """

    name = "joint"
    headline = "macro_f1"
    stored_keys = (*AUTask.stored_keys, *EmotionTask.stored_keys)
    inference_names = (*AUTask.inference_names, *EmotionTask.inference_names)
    output_meanings = AUTask.output_meanings | EmotionTask.output_meanings
    has_decision_step = True
    model_sections = AUTask.model_sections

    def __init__(self, emotions: Sequence[str] = BASIC_EMOTIONS, emotion_weight: float = 1.0):
        if not emotion_weight >= 0:
            raise ValueError(f"task.emotion_weight must be >= 0, got {emotion_weight}")
        self.au_task, self.emotion_task = AUTask(), EmotionTask(emotions)
        self.emotion_weight = float(emotion_weight)

    def targets(self, index, aus: list[str]) -> dict[str, np.ndarray]:
        """The emotion class of every row (AU labels come with every task)."""
        return self.emotion_task.targets(index, aus)

    def check_targets(self, targets: Mapping[str, np.ndarray], where: str) -> None:
        """Raise if no row carries an emotion label."""
        self.emotion_task.check_targets(targets, where)

    def build_loss(self, config: Mapping | None) -> nn.Module:
        """The AU head's ``model.loss`` (the emotion head's cross-entropy is its own)."""
        return self.au_task.build_loss(config)

    def build_state(self, num_aus: int, loss: Mapping | None, decision: Mapping | None):
        """The AU head's decision step."""
        return self.au_task.build_state(num_aus, loss, decision)

    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """A :class:`JointHead`."""
        return JointHead(in_features, num_aus, len(self.emotion_task.classes), **options)

    def loss(self, module, outputs: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        """AU loss + ``emotion_weight`` x emotion cross-entropy, each over its labelled part."""
        au_loss = self.au_task.loss(module, outputs["au"], batch)
        emotion_loss = self.emotion_task.loss(module, outputs["emotion"], batch)
        return au_loss + self.emotion_weight * emotion_loss

    def stored(self, module, outputs: dict[str, torch.Tensor], batch: dict) -> dict:
        """What both halves keep."""
        return self.au_task.stored(module, outputs["au"], batch) | self.emotion_task.stored(
            module, outputs["emotion"], batch
        )

    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the AU decisions; log the AU and the emotion scores."""
        self.au_task.validation_end(module, out)
        self.emotion_task.validation_end(module, out)

    def fit_decision(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the AU head's decision step (the emotion head decides by its arg-max)."""
        self.au_task.fit_decision(module, out)

    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log both halves' test scores."""
        results = self.au_task.test_end(module, out)
        self.emotion_task.test_end(module, out)
        return results

    def evaluator(self, module, datamodule, split: str, figure_dir=None) -> CombinedEvaluator:
        """The AU occurrence evaluator and the emotion evaluator with the AU read-out.

        One merged result (AU tables, then emotion tables), headline ``macro_f1``.
        """
        readout = (module.aus, module.task_state.thresholds.detach().cpu())
        occurrence = AUOccurrenceEvaluator.for_model(module, datamodule, split)
        emotion = self.emotion_task.emotion_evaluator(datamodule, split, readout, figure_dir)
        return CombinedEvaluator((occurrence, emotion), self.headline)

    def inference_outputs(self, module, outputs: dict[str, torch.Tensor]) -> dict:
        """AU probabilities (B, A) of the AU head, then emotion probabilities (B, C)."""
        return self.au_task.inference_outputs(module, outputs["au"]) | (
            self.emotion_task.inference_outputs(module, outputs["emotion"])
        )

    def output_labels(self, aus: Sequence[str]) -> dict[str, list[str]]:
        """The AUs for the AU probabilities, the emotion classes for the emotion ones."""
        return self.au_task.output_labels(aus) | self.emotion_task.output_labels(aus)
