"""The evaluator protocol each task implements, and the result the run record is written from.

The pattern is detectron2's ``DatasetEvaluator``: ``reset()``, then ``process(outputs)`` once per
batch (or once with every prediction of a split, as ``au.fit`` does after Lightning's test
loop gathered them across processes), then ``evaluate()``, which returns an
:class:`EvaluationResult`. :func:`au.evaluation.run_record.write_run_record` writes any result
the same way, so ``au.fit`` and ``au.evaluate`` produce one record layout whatever the task.

A task plugs in by adding one evaluator module beside :mod:`au.evaluation.occurrence` (AU
occurrence, the only task today):

- Emotion (next): an ``EmotionEvaluator`` whose ``process`` receives class logits (B, C) and
  class labels (B,), and whose ``evaluate`` wraps :func:`au.evaluation.emotion_metrics.
  emotion_metrics` and its ``majority_baseline``: ``tables`` ``{"emotion_metrics": per class,
  "confusion_matrix": ...}``, ``summary`` ``{"accuracy", "balanced_accuracy", "macro_f1", ...}``,
  ``headline="macro_f1"`` and a markdown section per table.
- AU intensity (next): an ``IntensityEvaluator`` whose ``process`` receives decoded
  intensities (B, A) with labels and masks, and whose ``evaluate`` wraps
  :func:`au.evaluation.intensity_metrics.intensity_metrics` beside the training-mean baseline:
  ``tables`` ``{"intensity_metrics": per AU}``, ``summary`` ``{"icc", "pcc", "mae"}``,
  ``headline="icc"``.

Commands never format metrics themselves: they pick the task's evaluator, feed it predictions
and hand its result to the run record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import torch


@dataclass
class EvaluationResult:
    """What a task's evaluator found on one split.

    Attributes:
        headline: The ``summary`` key a sweeper optimises and commands print (e.g. ``"f1"``).
        summary: Scalars (and small lists/dicts) for ``summary.json``.
        tables: Name -> table; written as ``<split>_<name>.csv`` (e.g. ``test_metrics.csv``).
        sections: Markdown sections of ``report.md``, in order.
    """

    headline: str
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The headline value."""
        return float(self.summary[self.headline])


@runtime_checkable
class Evaluator(Protocol):
    """Turns a split's predictions into an :class:`EvaluationResult` (detectron2's pattern)."""

    def reset(self) -> None:
        """Forget every prediction processed so far."""

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Take one batch (or all batches at once) of model outputs with their targets."""

    def evaluate(self) -> EvaluationResult:
        """Score everything processed since the last :meth:`reset`."""
