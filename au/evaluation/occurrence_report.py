"""Tables and report sections of the AU occurrence task (see :mod:`au.evaluation.occurrence`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from au.errors import FrameQueryError
from au.evaluation.frame_subset import select_frames
from au.evaluation.occurrence_metrics import f1_table
from au.evaluation.paired_bootstrap import average_f1, f1_per_au
from au.evaluation.subject_bootstrap import DRAWS, counts_by_subject, subject_interval

#: Test-frame conditions of the synthetic set, as (name, pandas query on its index columns).
SYNTHETIC_CONDITIONS = (
    (
        "clean",
        "low_light == 0 and abs(roll) < 5 and abs(yaw) < 10 and occlusion == 'none' "
        "and glasses == 'none'",
    ),
    ("low light", "low_light == 1"),
    ("rotated (|roll| >= 5 or |yaw| >= 10)", "abs(roll) >= 5 or abs(yaw) >= 10"),
    ("glasses", "glasses != 'none'"),
    ("occluded", "occlusion != 'none'"),
)
#: A condition with fewer frames than this is left out of the table.
MIN_CONDITION_FRAMES = 20


def predictions_table(
    frames: pd.DataFrame, aus: Sequence[str], values: dict, decisions: torch.Tensor
) -> pd.DataFrame:
    """One row per frame: index row, subject, and per AU probability, decision and label.

    Labels are empty where not coded.
    """
    table = pd.DataFrame(
        {"row": frames["row"].to_numpy(), "subject": frames["subject"].astype(str).to_numpy()}
    )
    coded = values["mask"].numpy() > 0
    for j, au in enumerate(aus):
        table[f"prob/{au}"] = values["probs"][:, j].numpy().round(5)
        table[f"decision/{au}"] = decisions[:, j].numpy().astype(int)
        label = pd.Series(values["labels"][:, j].numpy().astype(int), dtype="Int64")
        table[f"label/{au}"] = label.where(coded[:, j])
    return table


def condition_subsets(frames: pd.DataFrame) -> Iterator[tuple[dict, np.ndarray]]:
    """Each nuisance condition of the synthetic set held by enough of ``frames``.

    Yields:
        The start of the condition's table row (``condition``, ``frames`` and, where
        ``frames`` has a ``subject`` column, ``subjects``: a condition held by two subjects says
        less than its frame count suggests) and its frames as a boolean mask. Conditions whose
        columns ``frames`` lacks (a real data set) or with fewer than ``MIN_CONDITION_FRAMES``
        frames are skipped.
    """
    for name, query in SYNTHETIC_CONDITIONS:
        try:
            selected = select_frames(frames, query)
        except FrameQueryError:  # a column the frames lack (a real data set)
            continue
        if int(selected.sum()) < MIN_CONDITION_FRAMES:
            continue
        row = {"condition": name, "frames": int(selected.sum())}
        if "subject" in frames:
            row["subjects"] = frames.loc[selected, "subject"].nunique()
        yield row, selected


def condition_table(
    frames: pd.DataFrame, aus: Sequence[str], values: dict, decisions: torch.Tensor
) -> pd.DataFrame | None:
    """F1 at the decisions per nuisance condition of the synthetic set, like with like (or None).

    Every condition is scored over one fixed set of AUs, those with a coded positive in the
    whole of ``frames``: an AU of that set with no positive in a condition has no F1 there
    (NaN, shown as n/a), and ``aus_averaged`` says how many of the set the condition's
    average covers.

    Returns:
        One row per condition of :func:`condition_subsets` (``condition``, ``frames``,
        ``subjects``), then ``aus_averaged``, ``f1`` (the average), ``f1_low`` / ``f1_high``
        (95% interval over the condition's subjects, bootstrap), ``all_positive_f1`` (the
        baseline that marks every AU present, averaged over the same AUs) and ``f1/<AU>`` per
        AU of the fixed set.
    """
    coded = values["mask"].numpy() > 0  # (N, A)
    positive = coded & (values["labels"].numpy() > 0.5)
    fixed = positive.any(0)  # (A,) AUs with a positive somewhere in the test frames
    decided = decisions.numpy().astype(bool)
    hits = (positive & decided, coded & ~positive & decided, positive & ~decided)
    counts = np.stack(hits, axis=-1)[:, fixed].astype(float)  # (N, A_fixed, 3): TP, FP, FN
    negatives = (coded & ~positive)[:, fixed]  # (N, A_fixed)
    subjects = frames["subject"].to_numpy() if "subject" in frames else None
    columns = [f"f1/{au}" for au, keep in zip(aus, fixed, strict=True) if keep]
    rows = []
    for row, selected in condition_subsets(frames):
        held = None if subjects is None else subjects[selected]
        scores = _condition_f1(counts[selected], negatives[selected].sum(0), held)
        per_au = scores.pop("per_au")
        rows.append({**row, **scores, **dict(zip(columns, per_au, strict=True))})
    return pd.DataFrame(rows) if rows else None


def _condition_f1(counts: np.ndarray, negatives: np.ndarray, subjects: np.ndarray | None) -> dict:
    """Scores of one condition from its frames' counts (n, A, 3) and coded negatives (A,)."""
    total = counts.sum(0)  # (A, 3)
    per_au = f1_per_au(total)  # (A,) NaN where the condition has no positive
    averaged = ~np.isnan(per_au)
    scores = {"aus_averaged": int(averaged.sum()), "f1": np.nan, "f1_low": np.nan}
    scores |= {"f1_high": np.nan, "all_positive_f1": np.nan, "per_au": per_au}
    if not averaged.any():
        return scores
    positives = total[averaged, 0] + total[averaged, 2]
    all_positive = 2 * positives / (2 * positives + negatives[averaged])
    scores |= {"f1": float(per_au[averaged].mean()), "all_positive_f1": float(all_positive.mean())}
    if subjects is not None:
        by_subject = counts_by_subject(subjects, counts[:, averaged])
        scores["f1_low"], scores["f1_high"] = subject_interval(by_subject, average_f1)
    return scores


def metric_sections(
    tables: dict[str, pd.DataFrame], decision: str, untuned_aus: Sequence[str]
) -> list[str]:
    """Markdown: the F1 table beside 0.5 and the baselines, all metrics, F1 by condition."""
    tuned = tables["metrics"]
    total = len(tuned) - 1
    averaged = int(tuned.iloc[-1].get("aus_averaged", total))
    untuned = (
        f"; untuned (too few validation positives, threshold 0.5): {', '.join(untuned_aus)}"
        if untuned_aus
        else ""
    )
    f1 = (
        f"F1 (%) at the validation-fitted decisions ({decision}); the average covers "
        f"{averaged} of {total} AUs (an AU with no positive has no F1){untuned}:\n\n"
        + f1_table(tuned, tables["baselines"], **{"F1@0.5": tables["metrics_at_0.5"]})
    )
    detail = tuned.drop(columns=["name", "coded", "aus_averaged"], errors="ignore").copy()
    percent = ["precision", "recall", "f1", "roc_auc", "pr_auc"]
    detail[percent] = (100 * detail[percent]).round(1)
    detail["threshold"] = detail["threshold"].round(3)
    sections = [
        f1,
        "All metrics (%) at the decisions:\n\n"
        + detail.to_markdown(index=False, disable_numparse=True),
    ]
    conditions = tables.get("f1_by_condition")
    if conditions is not None:
        sections += condition_sections(conditions)
    return sections


def condition_sections(conditions: pd.DataFrame) -> list[str]:
    """Markdown: the per-condition averages with intervals and baseline, then F1 per AU."""
    per_au = [c for c in conditions if c.startswith("f1/")]
    counts = ["condition", "frames", *(["subjects"] if "subjects" in conditions else [])]
    shown = conditions[counts].copy()
    shown["AUs averaged"] = [f"{n} of {len(per_au)}" for n in conditions["aus_averaged"]]
    shown["F1"] = conditions["f1"].map(percent_cell)
    bounds = zip(conditions["f1_low"], conditions["f1_high"], strict=True)
    shown["95% CI (subjects)"] = [interval_cell(low, high) for low, high in bounds]
    shown["all-positive F1"] = conditions["all_positive_f1"].map(percent_cell)
    intro = (
        f"Average F1 (%) by condition, over the {len(per_au)} AUs with a positive among the "
        "test frames (an AU with no positive in a condition is n/a there and left out of its "
        f"average), with a 95% interval over the condition's subjects ({DRAWS} bootstrap draws; "
        "– for a condition of one subject) "
        "and the all-positive baseline on the same AUs"
    )
    by_au = conditions[["condition"]].copy()
    for column in per_au:
        by_au[column.removeprefix("f1/")] = conditions[column].map(percent_cell)
    return [
        intro + ":\n\n" + shown.to_markdown(index=False, disable_numparse=True),
        "F1 (%) per AU by condition (n/a: no positive of the AU in the condition):\n\n"
        + by_au.to_markdown(index=False, disable_numparse=True),
    ]


def percent_cell(value: float) -> str:
    """A score as a percent table cell: ``12.3``, or ``n/a`` where undefined (NaN)."""
    return "n/a" if pd.isna(value) else f"{100 * value:.1f}"


def interval_cell(low: float, high: float) -> str:
    """An interval as a percent table cell: ``[1.2, 3.4]``, or ``–`` where there is none."""
    return "–" if pd.isna(low) else f"[{100 * low:.1f}, {100 * high:.1f}]"
