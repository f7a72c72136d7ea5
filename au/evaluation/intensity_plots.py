"""Figures of AU intensity estimates, drawn with matplotlib's object API (Agg).

Predicted vs coded intensity per AU (box plots of the estimates at each coded level, the ideal
diagonal drawn), and one video's intensities over time, estimate against label per AU, so onset,
apex and offset of each movement can be read off. Every function writes one PNG and returns its
path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from au.aus import au_name
from au.evaluation.intensity_metrics import column_scores
from au.evaluation.plots import panel_grid, save_figure
from au.losses.intensity import MAX_INTENSITY

_LEVELS = np.arange(MAX_INTENSITY + 1)
_LIMITS = (-0.3, MAX_INTENSITY + 0.3)


def _draw_levels(ax: Axes, estimates: np.ndarray, labels: np.ndarray) -> None:
    """Box plot of the estimates at each coded level present, with the diagonal y = x."""
    codes = np.rint(labels).astype(int)
    present = [level for level in _LEVELS if (codes == level).any()]
    groups = [estimates[codes == level] for level in present]
    ax.plot(_LIMITS, _LIMITS, color="grey", ls="--", lw=0.8)
    ax.boxplot(groups, positions=present, widths=0.6, showfliers=False, manage_ticks=False,
               medianprops=dict(color="#d62728"), boxprops=dict(color="#1f77b4"))  # fmt: skip
    counts = {level: len(group) for level, group in zip(present, groups, strict=True)}
    ax.set_xticks(_LEVELS, [f"{level}\n{counts.get(level, 0)}" for level in _LEVELS], fontsize=7)
    ax.set(xlim=_LIMITS, ylim=_LIMITS, yticks=_LEVELS)
    ax.set(xlabel="coded intensity (below: frames)", ylabel="estimated intensity")
    ax.grid(alpha=0.3)


def plot_intensity_scatter(
    estimates: torch.Tensor,
    intensities: torch.Tensor,
    mask: torch.Tensor,
    aus: Sequence[str],
    path: str | Path,
    positive_threshold: float = 2.0,
) -> Path:
    """One panel per AU: estimated intensity at each coded level (box plot) vs the ideal y = x.

    Args:
        estimates: (N, A) estimated intensities.
        intensities: (N, A) coded intensities 0-5.
        mask: (N, A), 1 where coded; uncoded frames are left out.
        aus: AU keys of the columns.
        path: The PNG to write.
        positive_threshold: Used for the occurrence F1 in each panel's title.
    """
    figure, axes = panel_grid(len(aus))
    for j, (ax, au) in enumerate(zip(axes, aus, strict=True)):
        keep = mask[:, j] > 0
        labels, predicted = intensities[keep, j].float(), estimates[keep, j].float()
        if len(labels) == 0:
            ax.set_title(f"{au} {au_name(au)}", fontsize=9)
            ax.text(0.5, 0.5, "not coded", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        scores = column_scores(predicted, labels, positive_threshold)
        _draw_levels(ax, predicted.numpy(), labels.numpy())
        ax.set_title(
            f"{au} {au_name(au)}\nICC {_fmt(scores['icc'])}, r {_fmt(scores['pearson'])}, "
            f"MAE {_fmt(scores['mae'])}",
            fontsize=9,
        )
    figure.suptitle("Estimated vs coded intensity per AU (box: quartiles, red: median)")
    return save_figure(figure, path)


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def plot_intensity_over_time(
    frames: Sequence[int] | np.ndarray,
    estimates: torch.Tensor,
    intensities: torch.Tensor,
    mask: torch.Tensor,
    aus: Sequence[str],
    path: str | Path,
    title: str = "",
    positive_threshold: float = 2.0,
) -> Path:
    """One row per AU of one video: estimated and coded intensity against the frame number.

    Args:
        frames: (T,) frame numbers of the video's rows (sorted by the caller or here).
        estimates: (T, A) estimated intensities.
        intensities: (T, A) coded intensities 0-5.
        mask: (T, A), 1 where coded; uncoded frames leave a gap in the label line.
        aus: AU keys of the columns.
        path: The PNG to write.
        title: Figure title (e.g. the subject or video name).
        positive_threshold: Drawn as a dashed line (at or above: the AU counts as present).
    """
    frames = np.asarray(frames)
    order = np.argsort(frames, kind="stable")
    frames = frames[order]
    coded = mask.numpy()[order] > 0
    labels = np.where(coded, intensities.numpy()[order], np.nan)  # (T, A)
    predicted = estimates.numpy()[order]
    figure = Figure(figsize=(11, 0.9 * len(aus) + 0.9), layout="constrained")
    axes = figure.subplots(len(aus), 1, sharex=True, squeeze=False)[:, 0]
    for j, (ax, au) in enumerate(zip(axes, aus, strict=True)):
        ax.fill_between(frames, labels[:, j], step="mid", color="#b0b0b0", alpha=0.6, lw=0,
                        label="coded")  # fmt: skip
        if not coded[:, j].all():
            ax.fill_between(frames, 0, 1, where=~coded[:, j], step="mid", color="#f4cccc",
                            alpha=0.5, lw=0, transform=ax.get_xaxis_transform(),
                            label="not coded")  # fmt: skip
        ax.plot(frames, predicted[:, j], color="#1f77b4", lw=1.2, label="estimated")
        ax.axhline(positive_threshold, color="#d62728", ls="--", lw=0.7, label="present")
        ax.set_ylim(0, MAX_INTENSITY + 0.2)
        ax.set_yticks([0, positive_threshold, MAX_INTENSITY])
        ax.set_ylabel(au, rotation=0, ha="right", va="center")
        ax.grid(axis="x", alpha=0.3)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    axes[0].legend(handles.values(), handles.keys(), loc="lower left", bbox_to_anchor=(0.0, 1.0),
                   ncol=len(handles), frameon=False, fontsize=8)  # fmt: skip
    axes[-1].set_xlabel("frame")
    figure.suptitle(title or "Intensity over time (grey: coded, blue: estimated)")
    return save_figure(figure, path)
