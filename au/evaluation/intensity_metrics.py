"""AU intensity metrics as the literature reports them: ICC(3,1), Pearson r and MAE per AU.

All functions take estimated intensities ``estimates`` (N, A) and coded intensities
``intensities`` (N, A) on the 0-5 scale with ``mask`` (N, A), 1 where coded; masked entries never
count. Beside each model score stands the baseline that predicts every frame the AU's mean
training intensity, and occurrence F1 derived from the estimate (``estimate >= threshold``
against ``label >= threshold``) so intensity and occurrence models share one table.

Pearson r and MAE come from torchmetrics; torchmetrics (1.9) has no intraclass correlation, so
ICC(3,1) is computed here from the two-way ANOVA mean squares (Shrout & Fleiss 1979, case 3:
fixed raters, consistency, one rating), the form FERA 2015/2017 report with the model and the
human coder as the two raters.

Undefined values are NaN, never 0: Pearson r when either side is constant (0/0) - so the mean
baseline's r is always NaN; ICC(3,1) only when both sides are constant. ICC(3,1) of a constant
estimate against varying labels is exactly 0 (the between-target and residual mean squares are
equal), which is the mean baseline's ICC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional import mean_absolute_error, pearson_corrcoef

from au.aus import au_name

SCORES = ("icc", "pearson", "mae", "f1")


def icc_3_1(ratings: torch.Tensor) -> float:
    """ICC(3,1) of ``ratings`` (n targets, k raters): ``(BMS - EMS) / (BMS + (k-1)·EMS)``.

    BMS is the between-targets mean square and EMS the residual mean square of the two-way
    ANOVA (targets × raters, one rating per cell). NaN when every rater is constant (0/0) or
    when there are fewer than 2 targets or raters.
    """
    ratings = torch.as_tensor(ratings, dtype=torch.float64)
    n, k = ratings.shape
    if n < 2 or k < 2 or bool((ratings == ratings[0]).all()):
        return float("nan")
    grand = ratings.mean()
    target_means = ratings.mean(1, keepdim=True)  # (n, 1)
    rater_means = ratings.mean(0, keepdim=True)  # (1, k)
    between_targets = k * ((target_means - grand) ** 2).sum() / (n - 1)
    residual = ratings - target_means - rater_means + grand  # (n, k)
    error = (residual**2).sum() / ((n - 1) * (k - 1))
    return float((between_targets - error) / (between_targets + (k - 1) * error))


def _is_constant(values: torch.Tensor) -> bool:
    return bool((values == values[0]).all())


def pearson_r(estimates: torch.Tensor, labels: torch.Tensor) -> float:
    """Pearson correlation of two (n,) vectors; NaN when either is constant or ``n < 2``."""
    if len(labels) < 2 or _is_constant(estimates) or _is_constant(labels):
        return float("nan")
    return float(pearson_corrcoef(estimates.double(), labels.double()))


def occurrence_f1(estimates: torch.Tensor, labels: torch.Tensor, threshold: float) -> float:
    """F1 of ``estimate >= threshold`` against ``label >= threshold``; NaN with no positive."""
    predicted, present = estimates >= threshold, labels >= threshold
    if not present.any():
        return float("nan")
    true_positives = float((predicted & present).sum())
    return 2 * true_positives / float(predicted.sum() + present.sum())


def column_scores(estimates: torch.Tensor, labels: torch.Tensor, threshold: float) -> dict:
    """ICC(3,1), Pearson r, MAE and occurrence F1 of one AU's coded (n,) estimates and labels."""
    if len(labels) == 0:
        return dict.fromkeys(SCORES, float("nan"))
    if _is_constant(estimates) and not _is_constant(labels):
        icc = 0.0  # exact (BMS = EMS); the ANOVA would leave a rounding residue of ~1e-17
    else:
        icc = icc_3_1(torch.stack([estimates, labels], dim=1))
    return dict(
        icc=icc,
        pearson=pearson_r(estimates, labels),
        mae=float(mean_absolute_error(estimates.double(), labels.double())),
        f1=occurrence_f1(estimates, labels, threshold),
    )


def training_mean(intensities: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean coded intensity per AU (A,), the baseline's constant; NaN for an uncoded AU."""
    coded = mask.sum(0)
    means = (intensities * mask).sum(0) / coded.clamp(min=1)
    return torch.where(coded > 0, means, torch.full_like(means, float("nan")))


def intensity_metrics(
    estimates: torch.Tensor,
    intensities: torch.Tensor,
    mask: torch.Tensor,
    aus: Sequence[str],
    train_mean: torch.Tensor,
    positive_threshold: float = 2.0,
) -> pd.DataFrame:
    """Per-AU ICC(3,1), Pearson r, MAE and occurrence F1 of the model and the mean baseline.

    Args:
        estimates: (N, A) estimated intensities.
        intensities: (N, A) coded intensities 0-5.
        mask: (N, A), 1 where coded.
        aus: AU keys of the columns.
        train_mean: (A,) mean training intensity per AU (see :func:`training_mean`).
        positive_threshold: Intensity at or above which an AU counts as present (DISFA: 2).

    Returns:
        One row per AU and an ``average`` row (mean over AUs where a score is defined), with
        columns ``au, name, icc, pearson, mae, f1``, the same four prefixed ``baseline_``,
        ``support`` (coded labels >= threshold) and ``coded``.
    """
    rows = []
    for j, au in enumerate(aus):
        keep = mask[:, j] > 0
        labels, predicted = intensities[keep, j].float(), estimates[keep, j].float()
        constant = torch.full_like(labels, float(train_mean[j]))
        model = column_scores(predicted, labels, positive_threshold)
        baseline = column_scores(constant, labels, positive_threshold)
        rows.append(
            dict(au=au, name=au_name(au), **model)
            | {f"baseline_{key}": value for key, value in baseline.items()}
            | dict(support=int((labels >= positive_threshold).sum()), coded=int(keep.sum()))
        )
    table = pd.DataFrame(rows)
    scores = [c for c in table.columns if c.removeprefix("baseline_") in SCORES]
    summary = dict(au="average", name="", **table[scores].mean(skipna=True).to_dict())
    summary.update(support=int(table["support"].sum()), coded=int(table["coded"].sum()))
    return pd.concat([table, pd.DataFrame([summary])], ignore_index=True)


def intensity_table(metrics: pd.DataFrame) -> str:
    """Markdown table of :func:`intensity_metrics`: model beside mean baseline, "–" if undefined.

    ICC, PCC and MAE are printed with 2 decimals (MAE in intensity units), F1 in percent.
    """
    columns = {
        "ICC(3,1)": "icc", "PCC": "pearson", "MAE": "mae",
        "mean ICC": "baseline_icc", "mean PCC": "baseline_pearson", "mean MAE": "baseline_mae",
        "F1 (%)": "f1", "mean F1 (%)": "baseline_f1",
    }  # fmt: skip
    table = pd.DataFrame({"AU": metrics["au"], "name": metrics["name"]})
    for header, column in columns.items():
        scale, digits = (100, 1) if column.endswith("f1") else (1, 2)
        table[header] = ["–" if pd.isna(v) else f"{scale * v:.{digits}f}" for v in metrics[column]]
    table["support"] = metrics["support"].to_numpy(dtype=np.int64)
    return table.to_markdown(index=False, disable_numparse=True)
