"""Figures of an evaluation and of a comparison, drawn with matplotlib's object API (Agg).

Per-AU F1 bars, precision-recall and ROC curves per AU (small multiples, operating point
marked), training/validation curves of a run, and grouped F1 bars of several experiments.
Every function writes one PNG and returns its path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchmetrics.functional.classification import (
    binary_precision_recall_curve,
    binary_roc,
    binary_stat_scores,
)

from au.aus import au_name

DPI = 130


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (folders made), cropped to what is drawn."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _bar_labels(metrics: pd.DataFrame) -> list[str]:
    """AU names with their number of positive labels (F1 is undefined without any)."""
    return [
        "Avg." if au == "average" else f"{au}\n{support} pos."
        for au, support in zip(metrics["au"], metrics["support"], strict=True)
    ]


def _value_labels(values: pd.Series) -> list[str]:
    return ["n/a" if pd.isna(v) else f"{v:.0f}" for v in values]


def plot_f1_bars(
    tuned: pd.DataFrame, fixed: pd.DataFrame, baselines: pd.DataFrame, path: str | Path
) -> Path:
    """Per-AU F1 (%) at the tuned thresholds, at 0.5 and of the all-positive baseline."""
    series = {
        "tuned thresholds": tuned["f1"],
        "threshold 0.5": fixed["f1"],
        "all-positive baseline": baselines["all_positive"],
    }
    frame = pd.DataFrame({k: 100 * v.to_numpy(dtype=float) for k, v in series.items()})
    frame.index = _bar_labels(tuned)
    figure = Figure(figsize=(max(7.0, 1.0 * len(frame) + 2), 4.4))
    axes = figure.add_subplot()
    frame.plot.bar(ax=axes, rot=0, width=0.8, color=["#1f77b4", "#ff7f0e", "#b0b0b0"])
    for bars, column in zip(axes.containers[:2], frame.columns, strict=False):
        axes.bar_label(bars, labels=_value_labels(frame[column]), fontsize=7, padding=1)
    undefined = " (n/a: no positive label)" if frame.iloc[:, 0].isna().any() else ""
    axes.set(ylabel="F1 (%)", ylim=(0, 105), title=f"Per-AU F1{undefined}")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return save_figure(figure, path)


def panel_grid(count: int, columns: int = 4) -> tuple[Figure, list[Axes]]:
    """A figure with ``count`` square panels, ``columns`` per row (the rest hidden)."""
    rows = max(1, math.ceil(count / columns))
    columns = max(1, min(columns, count))
    figure = Figure(figsize=(3.0 * columns + 0.5, 3.0 * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _operating_point(scores, target, threshold: float) -> dict[str, float]:
    tp, fp, tn, fn, _ = binary_stat_scores(scores, target, threshold=threshold).tolist()
    # as au.evaluation.occurrence_metrics: nothing predicted gives precision 0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(precision=precision, recall=recall, fpr=fp / (fp + tn), f1=f1)


def _draw_pr(ax: Axes, scores, target, point: dict) -> str:
    precision, recall, _ = binary_precision_recall_curve(scores, target)
    prevalence = float(target.float().mean())
    ax.plot(recall, precision, color="#1f77b4", lw=1.5)
    ax.axhline(prevalence, color="grey", ls="--", lw=0.8)
    ax.plot(point["recall"], point["precision"], "o", color="#d62728", ms=7)
    ax.set(xlabel="recall", ylabel="precision")
    return f"F1 {100 * point['f1']:.0f}%"


def _draw_roc(ax: Axes, scores, target, point: dict) -> str:
    fpr, tpr, _ = binary_roc(scores, target)
    ax.plot(fpr, tpr, color="#1f77b4", lw=1.5)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8)
    ax.plot(point["fpr"], point["recall"], "o", color="#d62728", ms=7)
    ax.set(xlabel="false positive rate", ylabel="recall")
    return f"AUC {float(torch.trapezoid(tpr, fpr)):.2f}"


def _curve_grid(probs, labels, mask, aus, thresholds, draw, title: str, path) -> Path:
    """One panel per AU that has coded positives and negatives; the others are listed."""
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64).expand(len(aus))
    panels, skipped = [], []
    for j, au in enumerate(aus):
        keep = mask[:, j] > 0
        scores, target = probs[keep, j].float(), labels[keep, j].long()
        (panels if 0 < int(target.sum()) < len(target) else skipped).append((j, au, scores, target))
    figure, axes = panel_grid(len(panels))
    for ax, (j, au, scores, target) in zip(axes, panels, strict=True):
        point = _operating_point(scores, target, float(thresholds[j]))
        headline = draw(ax, scores, target, point)
        details = f"{headline}, threshold {float(thresholds[j]):.3g}, {int(target.sum())} pos."
        ax.set_title(f"{au} {au_name(au)}\n{details}", fontsize=9)
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.02))
    if skipped:
        missing = ", ".join(au for _, au, *_ in skipped)
        title += f"\nnot shown (no positive or no negative label): {missing}"
    figure.suptitle(title)
    return save_figure(figure, path)


def plot_pr_curves(probs, labels, mask, aus: Sequence[str], thresholds, path) -> Path:
    """Precision-recall curve per AU with the operating point at its decision threshold.

    Args:
        probs: (N, A) probabilities.
        labels: (N, A) binary labels.
        mask: (N, A), 1 where a label is coded.
        aus: AU keys of the columns.
        thresholds: (A,) decision thresholds (the model's), marked on each curve.
        path: The PNG to write.
    """
    title = "Precision-recall per AU (red dot: at the decision threshold; dashed: chance)"
    return _curve_grid(probs, labels, mask, aus, thresholds, _draw_pr, title, path)


def plot_roc_curves(probs, labels, mask, aus: Sequence[str], thresholds, path) -> Path:
    """ROC curve per AU (with its AUC) and the operating point at its decision threshold."""
    title = "ROC per AU (red dot: at the decision threshold; dashed: chance)"
    return _curve_grid(probs, labels, mask, aus, thresholds, _draw_roc, title, path)


def epoch_table(metrics_csv: str | Path) -> pd.DataFrame:
    """One row per epoch of a Lightning CSV log (its step-wise rows merged)."""
    log = pd.read_csv(metrics_csv)
    log = log.dropna(subset=["epoch"])
    return log.groupby(log["epoch"].astype(int)).first()


#: How the validation headline of each task is named and scaled on the training curves.
SCORE_AXES = {
    "f1": ("average F1 (%)", 100.0),
    "icc": ("average ICC(3,1)", 1.0),
    "macro_f1": ("emotion macro-F1 (%)", 100.0),
}


def plot_training_curves(
    metrics_csv: str | Path,
    path: str | Path,
    stage2_epoch: int | None = None,
    best_epoch: int | None = None,
    score: str = "f1",
) -> Path:
    """Train/val loss and the validation score per epoch, stage switch and best epoch marked.

    Args:
        metrics_csv: The run's ``csv/metrics.csv``.
        path: The PNG to write.
        stage2_epoch: First epoch of stage 2 (fine-tuning), drawn as a vertical line.
        best_epoch: Epoch of the evaluated checkpoint, drawn as a star on the score curve.
        score: The task's headline as logged (``val/<score>``): ``f1`` (AU occurrence; F1 at
            0.5 is drawn beside it), ``icc`` (intensity) or ``macro_f1`` (emotion, joint).
    """
    epochs = epoch_table(metrics_csv)
    ylabel, scale = SCORE_AXES.get(score, (score, 1.0))
    column = f"val/{score}"
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    loss_axes, score_axes = figure.subplots(1, 2)
    for name, label in (("train/loss_epoch", "train"), ("val/loss", "validation")):
        if name in epochs:
            loss_axes.plot(epochs.index, epochs[name], "o-", ms=3, label=label)
    curves = {column: f"val {ylabel.split(' (')[0]}"}
    if score == "f1":
        curves = {column: "val F1, tuned thresholds", "val/f1@0.5": "val F1 at 0.5"}
    for name, label in curves.items():
        if name in epochs:
            score_axes.plot(epochs.index, scale * epochs[name], "o-", ms=3, label=label)
    if best_epoch is not None and column in epochs and best_epoch in epochs.index:
        score_axes.plot(best_epoch, scale * epochs.loc[best_epoch, column], "*", color="#d62728",
                        ms=13, label=f"checkpoint (epoch {best_epoch})")  # fmt: skip
    for axes, label in ((loss_axes, "loss"), (score_axes, ylabel)):
        if stage2_epoch:
            axes.axvline(stage2_epoch - 0.5, color="grey", ls="--", lw=1, label="stage 2 starts")
        axes.set(xlabel="epoch", ylabel=label)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    loss_axes.set_title("Loss")
    score_axes.set_title(f"Validation {ylabel.split(' (')[0]}")
    return save_figure(figure, path)


def plot_grouped_f1(means: pd.DataFrame, stds: pd.DataFrame, path: str | Path) -> Path:
    """Grouped bars: F1 (%) per AU (rows) for each experiment (columns), std as error bars."""
    figure = Figure(figsize=(max(8.0, 0.35 * means.size + 2), 4.5))
    axes = figure.add_subplot()
    (100 * means).plot.bar(
        ax=axes, yerr=100 * stds.fillna(0.0), rot=0, width=0.85, capsize=2, error_kw=dict(lw=0.8)
    )
    axes.set(ylabel="F1 (%)", ylim=(0, 105), title="Test F1 per AU (mean ± std over seeds)")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return save_figure(figure, path)


def plot_paired_deltas(table: pd.DataFrame, path: str | Path) -> Path:
    """Each group's paired difference of average F1 to its baseline, with its 95% interval.

    ``table`` has ``delta_mean``, ``delta_low``, ``delta_high``, ``baseline`` and ``verdict``
    per group (its index); a dashed line marks zero.
    """
    figure = Figure(figsize=(7, 0.5 * len(table) + 1.2))
    ax = figure.subplots()
    y = list(range(len(table)))[::-1]
    mean = 100 * table["delta_mean"].astype(float)
    low = (mean - 100 * table["delta_low"].astype(float)).fillna(0)
    high = (100 * table["delta_high"].astype(float) - mean).fillna(0)
    colours = {"better": "tab:green", "worse": "tab:red"}
    for row, (value, lo, hi, verdict) in enumerate(
        zip(mean, low, high, table["verdict"], strict=True)
    ):
        ax.errorbar(value, y[row], xerr=[[lo], [hi]], fmt="o", capsize=4,
                    color=colours.get(verdict, "tab:gray"))  # fmt: skip
    ax.axvline(0, color="black", linestyle="--", linewidth=0.8)
    labels = [
        f"{group}\nvs {base}" for group, base in zip(table.index, table["baseline"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.set_xlabel("Δ average F1 (points), mean and 95% CI")
    ax.set_title("Paired difference to the baseline (green/red: interval excludes 0)")
    return save_figure(figure, path)
