"""Per-AU metrics, threshold selection and baselines on (N, A) probabilities with masks.

All functions take ``probs`` (N, A) in [0, 1], binary ``labels`` (N, A) and ``mask`` (N, A)
(1 where the label is coded); masked entries never count. They wrap torchmetrics' binary
functional metrics per AU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_precision_recall_curve,
    binary_stat_scores,
)

from au.aus import au_name


def _column(probs, labels, mask, j) -> tuple[torch.Tensor, torch.Tensor]:
    keep = mask[:, j] > 0
    return probs[keep, j], labels[keep, j].long()


def _f1_from_counts(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fn > 0 else float("nan")
    return precision, recall, f1


def select_thresholds(
    probs: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    default: float = 0.5,
    min_positives: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-AU decision thresholds that maximise F1 on the given (validation) predictions.

    The threshold of an AU is placed halfway between the lowest score predicted positive at
    the F1 optimum and the next lower score (or 0 when every score is predicted positive), so it
    generalises past the exact validation values and stays in [0, 1]. AUs with fewer than
    ``min_positives`` coded positives are not tuned: they keep ``default`` and their F1 is NaN
    (reports list them as untuned).

    Returns:
        ``thresholds`` (A,) and the F1 each reaches on these predictions (A,) (NaN where
        not tuned).
    """
    num_aus = probs.shape[1]
    thresholds = torch.full((num_aus,), float(default))
    best_f1 = torch.full((num_aus,), float("nan"))
    for j in range(num_aus):
        scores, target = _column(probs, labels, mask, j)
        if target.sum() < max(1, min_positives):
            continue
        precision, recall, cuts = binary_precision_recall_curve(scores, target)
        f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
        best = int(torch.argmax(f1[:-1]))  # the last point (P=1, R=0) has no threshold
        lower = scores[scores < cuts[best]]
        below = lower.max() if lower.numel() else torch.zeros_like(cuts[best])
        thresholds[j] = (cuts[best] + below) / 2
        best_f1[j] = f1[best]
    return thresholds, best_f1


def shrink_thresholds(
    thresholds: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    prior_positives: float,
    default: float = 0.5,
) -> torch.Tensor:
    """Pull tuned thresholds toward ``default`` by how few validation positives chose them.

    In logit units, ``logit(t) = logit(d) + w (logit(t*) - logit(d))`` with
    ``w = n / (n + prior_positives)``, ``n`` the AU's coded validation positives: with 10
    positives and ``prior_positives=10`` a tuned 0.2 becomes 0.333; with 1000 positives it stays
    at about 0.2. ``prior_positives=0`` returns the thresholds unchanged; a large value
    keeps ``default`` (no tuning).

    Args:
        thresholds: Tuned thresholds (A,), in (0, 1).
        labels: Validation labels (N, A).
        mask: 1 where a label is coded (N, A).
        prior_positives: How many positives the default is worth.
        default: The threshold shrunk toward.
    """
    if prior_positives <= 0:
        return thresholds
    positives = ((labels > 0) & (mask > 0)).sum(0).to(thresholds.dtype)  # (A,)
    weight = positives / (positives + prior_positives)
    eps = 1e-6
    tuned = torch.logit(thresholds.clamp(eps, 1 - eps))
    centre = torch.logit(torch.tensor(default, dtype=thresholds.dtype))
    return torch.sigmoid(centre + weight * (tuned - centre))


def bagged_thresholds(
    probs: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    samples: int,
    seed: int = 0,
    min_positives: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-AU thresholds as the median of :func:`select_thresholds` over bootstrap resamples.

    The F1-optimal threshold of an AU with few positives jumps with every validation frame it
    gains or loses; the median over ``samples`` resamples of the frames (with replacement) is
    steadier. AUs that :func:`select_thresholds` leaves untuned on all the frames stay untuned.

    Returns:
        ``thresholds`` (A,) and the F1 the un-resampled optimum reaches (A,), as
        :func:`select_thresholds`.
    """
    full, best_f1 = select_thresholds(probs, labels, mask, min_positives=min_positives)
    generator = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(samples):
        rows = torch.randint(len(probs), (len(probs),), generator=generator)
        draws.append(select_thresholds(probs[rows], labels[rows], mask[rows])[0])
    bagged = torch.stack(draws).median(dim=0).values
    return torch.where(torch.isnan(best_f1), full, bagged), best_f1


def per_au_metrics(
    probs: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    aus: Sequence[str],
    thresholds: torch.Tensor | float = 0.5,
    decisions: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Precision, recall, F1, ROC-AUC, PR-AUC and support per AU, with an ``average`` row.

    Decisions are ``probs >= thresholds`` per AU, or the given (N, A) ``decisions`` (e.g. of a
    per-frame decision step; the ``threshold`` column is then NaN). F1 is undefined (NaN) for
    an AU with no coded positive; ROC-AUC also when no coded negative. The average row is the
    mean over AUs where the value is defined (Avg.F1); its ``aus_averaged`` says how many.
    """
    thresholds = torch.as_tensor(thresholds, dtype=probs.dtype).expand(probs.shape[1])
    if decisions is not None:
        thresholds = torch.full_like(thresholds, float("nan"))
    rows = []
    for j, au in enumerate(aus):
        scores, target = _column(probs, labels, mask, j)
        decided = scores if decisions is None else decisions[mask[:, j] > 0, j].to(scores)
        cut = 0.5 if decisions is not None else float(thresholds[j])
        tp, fp, _, fn, support = (
            binary_stat_scores(decided, target, threshold=cut).tolist()
            if len(target)
            else [0, 0, 0, 0, 0]
        )
        precision, recall, f1 = _f1_from_counts(tp, fp, fn)
        both = 0 < target.sum() < len(target)
        rows.append(
            dict(
                au=au,
                name=au_name(au),
                threshold=float(thresholds[j]),
                precision=precision,
                recall=recall,
                f1=f1,
                roc_auc=float(binary_auroc(scores, target)) if both else float("nan"),
                pr_auc=float(binary_average_precision(scores, target)) if both else float("nan"),
                support=int(support),
                coded=len(target),
            )
        )
    table = pd.DataFrame(rows)
    average = table[["precision", "recall", "f1", "roc_auc", "pr_auc"]].mean(skipna=True)
    summary = dict(au="average", name="", threshold=float("nan"), **average.to_dict())
    summary.update(support=int(table["support"].sum()), coded=int(table["coded"].sum()))
    summary["aus_averaged"] = int(table["f1"].notna().sum())
    return pd.concat([table, pd.DataFrame([summary])], ignore_index=True)


def prevalence(labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fraction of coded labels that are positive, per AU (A,)."""
    return (labels * mask).sum(0) / mask.sum(0).clamp(min=1)


def baseline_f1(
    labels: torch.Tensor, mask: torch.Tensor, train_prevalence: torch.Tensor
) -> pd.DataFrame:
    """F1 of the trivial predictors on these labels, per AU.

    ``all_positive`` predicts every AU present (F1 = 2p / (1 + p) for prevalence p);
    ``majority`` predicts each AU's majority class in the training set (0 when it is absent).
    """
    rows = []
    for j in range(labels.shape[1]):
        keep = mask[:, j] > 0
        positives = float(labels[keep, j].sum())
        total = float(keep.sum())
        negatives = total - positives
        all_positive = _f1_from_counts(positives, negatives, 0.0)[2]
        if float(train_prevalence[j]) > 0.5:
            majority = all_positive
        else:
            majority = 0.0 if positives > 0 else float("nan")
        rows.append(dict(all_positive=all_positive, majority=majority))
    table = pd.DataFrame(rows)
    average = table.mean(skipna=True)
    return pd.concat([table, pd.DataFrame([average.to_dict()])], ignore_index=True)


def f1_table(metrics: pd.DataFrame, baselines: pd.DataFrame | None = None, **extra) -> str:
    """Format per-AU F1 (and optional baseline / extra F1 columns) as a markdown table."""
    table = pd.DataFrame({"AU": metrics["au"], "name": metrics["name"]})
    for label, frame in extra.items():
        table[label] = frame["f1"].to_numpy()
    table["F1"] = metrics["f1"].to_numpy()
    table["ROC-AUC"] = metrics["roc_auc"].to_numpy()
    if baselines is not None:
        table["all-positive F1"] = baselines["all_positive"].to_numpy()
        table["majority F1"] = baselines["majority"].to_numpy()
    table["support"] = metrics["support"].to_numpy()
    numeric = table.select_dtypes(include=[np.floating]).columns
    table[numeric] = table[numeric].map(lambda v: "–" if pd.isna(v) else f"{100 * v:.1f}")
    return table.to_markdown(index=False, disable_numparse=True)
