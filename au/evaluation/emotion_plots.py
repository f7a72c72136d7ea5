"""Figures of an emotion evaluation: the row-normalised confusion matrix and one-vs-rest ROC.

Drawn with matplotlib's object API (the Agg canvas, no display needed). Every ``save_*``
function writes one PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from au.evaluation.emotion_metrics import EmotionMetrics

DPI = 130


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def confusion_figure(metrics: EmotionMetrics, title: str = "") -> Figure:
    """The row-normalised confusion matrix, each cell with its fraction and count."""
    n = len(metrics.classes)
    fig = Figure(figsize=(2.5 + 0.85 * n, 1.5 + 0.8 * n), layout="constrained")
    ax = fig.add_subplot()
    values, counts = metrics.confusion.to_numpy(), metrics.counts.to_numpy()
    cmap = colormaps["Blues"].with_extremes(bad="0.85")  # grey rows: class absent
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1)
    for i, j in np.ndindex(values.shape):
        text = "n/a" if np.isnan(values[i, j]) else f"{values[i, j]:.2f}\n({counts[i, j]})"
        color = "white" if values[i, j] > 0.6 else "black"
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(n), metrics.classes, rotation=40, ha="right")
    ax.set_yticks(range(n), metrics.classes)
    ax.set(xlabel="predicted", ylabel="true")
    heading = f"accuracy {metrics.accuracy:.1%}, balanced {metrics.balanced_accuracy:.1%}, "
    heading += f"n={int(counts.sum())}"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def roc_figure(metrics: EmotionMetrics, title: str = "") -> Figure:
    """The one-vs-rest ROC curve of every class that has one, with its AUC and chance."""
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for index, (name, (fpr, tpr)) in enumerate(metrics.roc.items()):
        auc = metrics.per_class.loc[name, "auc"]
        ax.plot(fpr, tpr, color=f"C{index % 10}", label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="chance (AUC 0.5)")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate")
    ax.set_aspect("equal")
    heading = f"One-vs-rest ROC (macro AUC {metrics.macro['auc']:.3f})"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=10)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def save_confusion_matrix(metrics: EmotionMetrics, path: str | Path, title: str = "") -> Path:
    """Write the confusion matrix PNG to ``path``."""
    return _save(confusion_figure(metrics, title), path)


def save_roc_curves(metrics: EmotionMetrics, path: str | Path, title: str = "") -> Path | None:
    """Write the ROC PNG to ``path``; ``None`` (nothing written) when no class has a curve."""
    return _save(roc_figure(metrics, title), path) if metrics.roc else None
