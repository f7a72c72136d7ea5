"""Collect experiment 004's runs into results.csv and paired differences with t intervals.

Run from the folder that holds ``logs/`` (the runs of the README's commands):

    python experiments/004-intensity/summarise.py logs/fit/ablations/004-intensity \
        logs/fit/ablations/002-loss-study/two_stage

The second folder holds the occurrence (BCE) runs of experiment 002 with the same seeds and
folds. A difference is paired by (fold, seed) and its 95% interval is a t interval over the
pairs (:func:`au.evaluation.paired_bootstrap.t_interval`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from au.evaluation.paired_bootstrap import t_interval, verdict

HERE = Path(__file__).parent
INTENSITY_SCORES = ("icc", "pcc", "mae", "occurrence_f1")
#: The training-mean baseline's scores (its PCC is undefined: a constant estimate).
BASELINE_SCORES = ("baseline_icc", "baseline_mae", "baseline_occurrence_f1")
#: Scores where lower is better: "better" then means a negative difference.
LOWER_IS_BETTER = ("mae",)


def collect(intensity_root: Path, occurrence_root: Path) -> pd.DataFrame:
    """One row per run: model, fold, seed, the intensity scores and the occurrence F1."""
    rows = []
    for record in sorted(intensity_root.glob("*/results/summary.json")):
        summary = json.loads(record.read_text())
        row = {"model": summary["experiment"], "fold": summary["fold"], "seed": summary["seed"]}
        row |= {key: summary.get(key) for key in (*INTENSITY_SCORES, *BASELINE_SCORES)}
        rows.append(
            row | {"train_seconds": summary.get("train_seconds"), "run": str(record.parent.parent)}
        )
    for record in sorted(occurrence_root.glob("*-bce-*/results/summary.json")):
        summary = json.loads(record.read_text())
        row = {"model": "occurrence (bce)", "fold": summary["fold"], "seed": summary["seed"]}
        row |= {"occurrence_f1": summary["f1"], "train_seconds": summary.get("train_seconds")}
        rows.append(row | {"run": str(record.parent.parent)})
    return pd.DataFrame(rows)


def paired(results: pd.DataFrame, model: str, baseline: str, score: str) -> dict:
    """Mean paired difference ``model - baseline`` of ``score`` over shared (fold, seed)."""
    wide = results.pivot_table(index=["fold", "seed"], columns="model", values=score)
    deltas = (wide[model] - wide[baseline]).dropna()
    mean, low, high = t_interval(deltas)
    judged = verdict(-high, -low) if score in LOWER_IS_BETTER else verdict(low, high)
    return dict(model=model, baseline=baseline, score=score, pairs=len(deltas), delta=mean,
                low=low, high=high, verdict=judged)  # fmt: skip


def main(intensity_root: str, occurrence_root: str) -> None:
    """Write results.csv and paired_differences.csv beside this file; print them."""
    results = collect(Path(intensity_root), Path(occurrence_root))
    results.to_csv(HERE / "results.csv", index=False)
    models = sorted(m for m in results["model"].unique() if m.startswith("intensity"))
    rows = []
    if len(models) == 2:
        rows += [paired(results, models[1], models[0], score) for score in INTENSITY_SCORES]
    rows += [paired(results, m, "occurrence (bce)", "occurrence_f1") for m in models]
    deltas = pd.DataFrame(rows)
    deltas.to_csv(HERE / "paired_differences.csv", index=False)
    columns = [*INTENSITY_SCORES, *BASELINE_SCORES]
    print(results.groupby("model")[columns].agg(["mean", "std"]).round(3).T.to_string())
    print(deltas.round(3).to_string(index=False))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
