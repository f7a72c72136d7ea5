"""Which threshold rule to use, decided on validation subjects alone.

A threshold tuned on a few validation subjects can do worse than 0.5 on new faces. Whether it
does is measured without the test fold: split the validation *subjects* into two halves, fit
the thresholds of each rule on one half, score average F1 on the other, swap, and repeat over
random halvings. The rules compared are ``0.5`` (no tuning), ``tuned`` (the F1 optimum,
:func:`~au.evaluation.occurrence_metrics.select_thresholds`) and ``shrink<k>`` (the optimum
pulled toward 0.5 as if 0.5 were worth ``k`` positives,
:func:`~au.evaluation.occurrence_metrics.shrink_thresholds`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from au.evaluation.occurrence_metrics import per_au_metrics, select_thresholds, shrink_thresholds

#: ``None``: keep 0.5; 0: the tuned optimum; k > 0: shrunk toward 0.5 with ``k`` positives.
DEFAULT_RULES: dict[str, float | None] = {
    "0.5": None,
    "tuned": 0.0,
    "shrink10": 10.0,
    "shrink30": 30.0,
    "shrink100": 100.0,
}


def table_aus(table: pd.DataFrame) -> list[str]:
    """The AUs of a ``*_predictions.csv`` table, in column order."""
    return [c.split("/", 1)[1] for c in table.columns if c.startswith("prob/")]


def predictions_arrays(table: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``probs``, ``labels``, ``mask`` (N, A) of a run record's ``*_predictions.csv`` table.

    Columns ``prob/<AU>`` and ``label/<AU>``; an empty (NaN) label is not coded.
    """
    aus = table_aus(table)
    probs = torch.tensor(table[[f"prob/{au}" for au in aus]].to_numpy(float))
    raw = table[[f"label/{au}" for au in aus]].to_numpy(float)
    mask = torch.tensor(~np.isnan(raw), dtype=torch.float64)
    labels = torch.tensor(np.nan_to_num(raw), dtype=torch.float64)
    return probs, labels, mask


def rule_thresholds(probs, labels, mask, prior: float | None, min_positives: int = 5):
    """The thresholds (A,) one rule fits on these predictions."""
    if prior is None:
        return torch.full((probs.shape[1],), 0.5, dtype=torch.float64)
    tuned, _ = select_thresholds(probs, labels, mask, min_positives=min_positives)
    return shrink_thresholds(tuned.double(), labels, mask, prior)


def average_f1(probs, labels, mask, thresholds, aus: Sequence[str]) -> float:
    """Average F1 over the AUs with a positive, at the given thresholds."""
    table = per_au_metrics(probs, labels, mask, aus, thresholds)
    return float(table.loc[table["au"] == "average", "f1"].iloc[0])


def split_half_scores(
    table: pd.DataFrame,
    rules: dict[str, float | None] = DEFAULT_RULES,
    repeats: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Held-out average F1 of each rule over random halvings of the validation subjects.

    Args:
        table: A validation ``*_predictions.csv`` table (``subject``, ``prob/*``, ``label/*``).
        rules: Rule name -> prior positives (see :data:`DEFAULT_RULES`).
        repeats: Random halvings; each is scored both ways.
        seed: Seed of the halvings.

    Returns:
        One row per rule: ``rule``, ``f1`` (mean held-out average F1), ``f1_std``.
    """
    subjects = np.array(sorted(table["subject"].astype(str).unique()))
    if len(subjects) < 2:
        raise ValueError("choosing a threshold rule needs at least 2 validation subjects")
    probs, labels, mask = predictions_arrays(table)
    aus = table_aus(table)
    owner = table["subject"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {name: [] for name in rules}
    for _ in range(repeats):
        half = set(rng.permutation(subjects)[: len(subjects) // 2])
        first = torch.tensor([s in half for s in owner])
        for fit_rows, score_rows in ((first, ~first), (~first, first)):
            for name, prior in rules.items():
                cut = rule_thresholds(probs[fit_rows], labels[fit_rows], mask[fit_rows], prior)
                held = average_f1(probs[score_rows], labels[score_rows], mask[score_rows], cut, aus)
                scores[name].append(held)
    return pd.DataFrame(
        [
            {"rule": name, "f1": float(np.nanmean(v)), "f1_std": float(np.nanstd(v))}
            for name, v in scores.items()
        ]
    )


def scores_on_test(
    validation: pd.DataFrame, test: pd.DataFrame, rules: Sequence[str] | None = None
) -> pd.DataFrame:
    """Test average F1 of each rule with its thresholds fitted on all validation frames."""
    names = list(rules or DEFAULT_RULES)
    val_arrays, test_arrays = predictions_arrays(validation), predictions_arrays(test)
    rows = []
    for name in names:
        cut = rule_thresholds(*val_arrays, DEFAULT_RULES[name])
        rows.append({"rule": name, "f1": average_f1(*test_arrays, cut, table_aus(test))})
    return pd.DataFrame(rows)
