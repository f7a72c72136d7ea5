"""Tables and report sections of the AU occurrence task (see :mod:`au.evaluation.occurrence`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from au.evaluation.occurrence_metrics import f1_table, per_au_metrics

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
            selected = frames.eval(query).to_numpy(dtype=bool)
        except (pd.errors.UndefinedVariableError, KeyError, TypeError, ValueError):
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
    """Average F1 at the decisions per nuisance condition of the synthetic set (or None)."""
    rows = []
    for row, selected in condition_subsets(frames):
        chosen = torch.from_numpy(selected)
        metrics = per_au_metrics(
            values["probs"][chosen],
            values["labels"][chosen],
            values["mask"][chosen],
            aus,
            decisions=decisions[chosen],
        )
        rows.append({**row, "f1": metrics.iloc[-1]["f1"]})
    return pd.DataFrame(rows) if rows else None


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
        shown = conditions.assign(f1=lambda d: (100 * d["f1"]).round(1))
        sections.append("Average F1 (%) by condition:\n\n" + shown.to_markdown(index=False))
    return sections
