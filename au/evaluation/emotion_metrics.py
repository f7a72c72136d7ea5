"""Emotion classification metrics, as the emotion-recognition papers report them.

:func:`emotion_metrics` counts with torchmetrics: accuracy, balanced accuracy, macro and
per-class precision / recall / F1, one-vs-rest ROC curves with their AUC, and the confusion
matrix in counts and row-normalised. :func:`majority_baseline` scores the classifier that always
answers the most frequent training class, to be read beside every model.
:func:`write_emotion_tables` writes a result as CSV and JSON; :mod:`au.evaluation.emotion_plots`
draws it.

Conventions (those of scikit-learn where the papers rely on it):

- *macro* precision / recall / F1 average over the classes present in ``y_true`` or ``y_pred``
  (torchmetrics' macro); a class absent from both gets NaN and is left out.
- *balanced accuracy* is the mean recall over the classes present in ``y_true``
  (scikit-learn's ``balanced_accuracy_score``): a class only ever predicted does not lower it.
- *macro AUC* averages the classes that have scores, positives and negatives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional import classification as tmc

from au.emotions import EMOTIONS

_AVERAGED = {
    "precision": tmc.multiclass_precision,
    "recall": tmc.multiclass_recall,
    "f1": tmc.multiclass_f1_score,
}


@dataclass
class EmotionMetrics:
    """The scores of one emotion classifier on one test set.

    Attributes:
        classes: Class names, in the order of the score columns.
        accuracy: Fraction of samples classified correctly.
        balanced_accuracy: Mean recall over the classes present in ``y_true``.
        macro: ``precision``, ``recall``, ``f1`` and ``auc`` averaged over classes.
        per_class: Index ``class``; columns precision, recall, f1, support, auc.
        confusion: Rows = true class, columns = predicted class, each row divided by its
            support (NaN rows for classes absent from ``y_true``).
        counts: The same matrix in sample counts.
        roc: One-vs-rest ``(fpr, tpr)`` per class with scores, positives and negatives.
    """

    classes: list[str]
    accuracy: float
    balanced_accuracy: float
    macro: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    counts: pd.DataFrame
    roc: dict[str, tuple[np.ndarray, np.ndarray]]

    def summary(self) -> dict[str, float]:
        """One flat row: n, accuracy, balanced_accuracy, macro_precision/recall/f1/auc."""
        row = {"n": float(self.counts.to_numpy().sum()), "accuracy": self.accuracy}
        row["balanced_accuracy"] = self.balanced_accuracy
        return row | {f"macro_{k}": v for k, v in self.macro.items()}


def emotion_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    scores: np.ndarray | None = None,
    classes: Sequence[str] = EMOTIONS,
) -> EmotionMetrics:
    """Score predicted against true emotion labels.

    Args:
        y_true: True class name per sample.
        y_pred: Predicted class name per sample.
        scores: Optional ``(N, C)`` class scores for ROC / AUC (any monotone scale). A class
            whose column is all NaN (an emotion an AU model cannot express) gets no curve.
        classes: The class names, in the order of the score columns.

    Raises:
        ValueError: On a label outside ``classes``, lengths that differ or are zero, or
            scores of the wrong shape.
    """
    classes = list(classes)
    target, preds = (
        encode_labels(y_true, classes, "y_true"),
        encode_labels(y_pred, classes, "y_pred"),
    )
    if len(target) != len(preds) or len(target) == 0:
        raise ValueError(
            f"y_true and y_pred need the same, non-zero length: {len(target)} vs {len(preds)}"
        )
    args = {"preds": preds, "target": target, "num_classes": len(classes)}
    counts = tmc.multiclass_confusion_matrix(**args).numpy()  # (C, C), rows = true
    support, predicted = counts.sum(1), counts.sum(0)
    per_class = pd.DataFrame({k: f(**args, average=None).numpy() for k, f in _AVERAGED.items()})
    per_class[(support + predicted) == 0] = np.nan
    per_class["support"] = support
    roc, auc = one_vs_rest_roc(scores, target, classes) if scores is not None else ({}, None)
    per_class["auc"] = np.nan if auc is None else auc
    per_class.index = pd.Index(classes, name="class")
    macro = {k: float(f(**args, average="macro")) for k, f in _AVERAGED.items()}
    macro["auc"] = float(np.nanmean(auc)) if roc else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = counts / support[:, None]
    frame = {"index": pd.Index(classes, name="true"), "columns": pd.Index(classes, name="pred")}
    return EmotionMetrics(
        classes=classes,
        accuracy=float(tmc.multiclass_accuracy(**args, average="micro")),
        balanced_accuracy=float(per_class["recall"][support > 0].mean()),
        macro=macro,
        per_class=per_class,
        confusion=pd.DataFrame(normalised, **frame),
        counts=pd.DataFrame(counts, **frame),
        roc=roc,
    )


def f1_from_confusion(counts: np.ndarray) -> np.ndarray:
    """F1 per class (..., C) from confusion counts (..., C, C), rows the true class.

    ``2 TP / (2 TP + FP + FN)``; NaN for a class with no true sample, 0 for one with true
    samples of which none is found.
    """
    tp = np.diagonal(counts, axis1=-2, axis2=-1)  # (..., C)
    support, predicted = counts.sum(-1), counts.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (support + predicted)
    return np.where(support > 0, f1, np.nan)


def encode_labels(labels: Sequence[str], classes: list[str], name: str = "labels") -> torch.Tensor:
    """Class indices ``(N,)`` of class names; raise naming the labels that are not classes."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ValueError(f"{name} has labels {unknown} that are not among classes {classes}")
    return torch.tensor([index[label] for label in labels], dtype=torch.long)


def one_vs_rest_roc(
    scores: np.ndarray, target: torch.Tensor, classes: list[str]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """ROC curves and AUCs (C,) of each class against the rest; NaN where undefined."""
    values = torch.as_tensor(np.asarray(scores, dtype=np.float64))  # (N, C)
    if values.shape != (len(target), len(classes)):
        raise ValueError(
            f"scores has shape {tuple(values.shape)}; expected "
            f"({len(target)}, {len(classes)}) = (samples, classes)"
        )
    roc, auc = {}, np.full(len(classes), np.nan)
    for i, name in enumerate(classes):
        column, positive = values[:, i], (target == i).long()  # (N,), (N,)
        missing = torch.isnan(column)
        if missing.all() or int(positive.sum()) in (0, len(positive)):
            continue  # no scores, or no positives / no negatives: the curve is undefined
        if missing.any():
            raise ValueError(f"scores for class {name!r} are NaN in some rows but not all")
        fpr, tpr, _ = tmc.binary_roc(column, positive)
        roc[name] = (fpr.numpy(), tpr.numpy())
        auc[i] = float(tmc.binary_auroc(column, positive))
    return roc, auc


def majority_class(y_reference: Sequence[str], classes: Sequence[str] = EMOTIONS) -> str:
    """The most frequent label of ``y_reference`` (ties: the first in ``classes`` order)."""
    counts = pd.Series(list(y_reference), dtype=object).value_counts()
    if counts.empty:
        raise ValueError("the majority baseline needs at least one reference label")
    best = counts[counts == counts.max()].index
    return min(best, key=lambda c: list(classes).index(c) if c in classes else len(classes))


def majority_baseline(
    y_true: Sequence[str],
    y_reference: Sequence[str] | None = None,
    classes: Sequence[str] = EMOTIONS,
) -> EmotionMetrics:
    """Metrics of always answering the majority class of ``y_reference`` (training labels).

    Without ``y_reference`` the test labels' own majority is used (an optimistic baseline).
    Its scores are the same one-hot vector for every sample, so each defined AUC is 0.5.
    """
    answer = majority_class(y_true if y_reference is None else y_reference, classes)
    scores = np.zeros((len(y_true), len(classes)))
    scores[:, list(classes).index(answer)] = 1.0
    return emotion_metrics(y_true, [answer] * len(y_true), scores, classes)


def summary_table(results: Mapping[str, EmotionMetrics]) -> pd.DataFrame:
    """One row per named result (model, read-out, majority baseline), summary columns."""
    table = pd.DataFrame({name: m.summary() for name, m in results.items()}).T
    table.index.name = "model"
    return table.astype({"n": int})


def write_emotion_tables(
    metrics: EmotionMetrics, out_dir: str | Path, baseline: EmotionMetrics | None = None
) -> dict[str, Path]:
    """Write ``emotion_metrics.csv``, ``emotion_summary.json``, ``confusion_matrix.csv``.

    The JSON holds the summary (NaN as null), the classes and, when given, the baseline's
    summary under ``majority_baseline``. Returns the written paths by file name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ("emotion_metrics.csv", "emotion_summary.json", "confusion_matrix.csv")
    paths = {n: out_dir / n for n in names}
    metrics.per_class.to_csv(paths["emotion_metrics.csv"], float_format="%.6g")
    summary = _json_ready(metrics.summary()) | {"classes": metrics.classes}
    if baseline is not None:
        summary["majority_baseline"] = _json_ready(baseline.summary())
    paths["emotion_summary.json"].write_text(json.dumps(summary, indent=2) + "\n")
    metrics.confusion.to_csv(paths["confusion_matrix.csv"], float_format="%.6g")
    return paths


def _json_ready(row: Mapping[str, float]) -> dict[str, float | int | None]:
    ready = {k: (None if math.isnan(v) else round(float(v), 6)) for k, v in row.items()}
    ready["n"] = int(row["n"])
    return ready
