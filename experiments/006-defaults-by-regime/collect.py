"""Collect experiment 006's runs into results.csv and print the per-regime tables.

Usage (from the repository root, after grid.sh):
    python experiments/006-defaults-by-regime/collect.py [LOGS] [--thresholds]

Each run folder logs/fit/multiruns/006-<regime>-<setting>/<job>/ gives one row: its validation
average F1 (the best epoch's ``val/f1``, which chose the checkpoint) and its test figures.
``--thresholds`` also scores the threshold rules (au.evaluation.threshold_rules) on each run's
validation predictions (split halves of the validation subjects) and, after the choice, on
its test predictions; it runs ``au.evaluate split=val`` once per run to get them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from scipy import stats

from au.evaluation.threshold_rules import scores_on_test, split_half_scores

HERE = Path(__file__).resolve().parent
REGIMES = ("synthetic", "synthetic_posed", "synthetic_wild")
#: Test figures kept per task (besides the headline: average F1, or macro-F1 for emotions).
SCORES = {
    "au": ("f1@0.5", "roc_auc", "all_positive_f1"),
    "emotion": ("accuracy", "balanced_accuracy", "majority_macro_f1"),
}


def run_rows(roots: list[Path]) -> pd.DataFrame:
    """One row per finished run of the grid, under any of ``roots``."""
    rows = []
    paths = sorted(p for root in roots for p in root.glob("006-*/*/results/summary.json"))
    for summary_path in paths:
        run = summary_path.parent.parent
        sweep = run.parent.name.removeprefix("006-")
        regime = next(r for r in sorted(REGIMES, key=len, reverse=True) if sweep.startswith(r))
        setting = sweep.removeprefix(regime + "-")
        summary = json.loads(summary_path.read_text())
        task = summary.get("task", "au")
        headline = "f1" if task == "au" else "macro_f1"
        metrics = pd.read_csv(run / "csv" / "metrics.csv")
        val = metrics.dropna(subset=[f"val/{headline}"])
        chosen = val.loc[val["epoch"] == summary["checkpoint_epoch"], f"val/{headline}"]
        percent = {k: summary.get(k) for k in SCORES[task]}
        rows.append(
            {
                "regime": regime,
                "task": task,
                "setting": setting,
                "seed": summary["seed"],
                "fold": summary["fold"],
                "val_score": float(chosen.iloc[-1]) * 100,
                "test_score": summary[headline] * 100,
                **{f"test_{k}": v * 100 if v is not None else None for k, v in percent.items()},
                "checkpoint_stage": summary.get("checkpoint_stage"),
                "checkpoint_epoch": summary["checkpoint_epoch"],
                "train_seconds": summary["train_seconds"],
                "run": str(run),
            }
        )
    return pd.DataFrame(rows)


def paired(table: pd.DataFrame, column: str, reference: dict[str, str]) -> pd.DataFrame:
    """Mean paired difference (setting - reference, by seed) and its 95% t interval."""
    rows = []
    for (regime, task, setting), group in table.groupby(["regime", "task", "setting"]):
        base = table[(table.regime == regime) & (table.task == task)]
        base = base[base.setting == reference[task]]
        pairs = group.merge(base, on=["seed", "fold"], suffixes=("", "_ref"))
        delta = pairs[column] - pairs[f"{column}_ref"]
        n = len(delta)
        half = stats.t.ppf(0.975, n - 1) * delta.std(ddof=1) / n**0.5 if n > 1 else float("nan")
        rows.append(
            {
                "regime": regime,
                "task": task,
                "setting": setting,
                "n": n,
                f"{column}_mean": group[column].mean(),
                f"{column}_std": group[column].std(ddof=1),
                "delta": delta.mean(),
                "low": delta.mean() - half,
                "high": delta.mean() + half,
            }
        )
    return pd.DataFrame(rows)


def threshold_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Split-half validation scores and test scores of each threshold rule, per run."""
    rows = []
    for run in table.itertuples():
        folder = Path(run.run)
        val_csv = folder / "evaluation" / "val" / "val_predictions.csv"
        if not val_csv.exists():  # run from the checkout that trained it (its au and configs)
            subprocess.run(
                [sys.executable, "-m", "au.evaluate", f"ckpt_path={folder}/checkpoints/best.ckpt",
                 "split=val", "plots=false"],
                check=True, capture_output=True, cwd=folder.parents[4],
            )  # fmt: skip
        validation = pd.read_csv(val_csv)
        test = pd.read_csv(folder / "results" / "test_predictions.csv")
        held = split_half_scores(validation).set_index("rule")
        tested = scores_on_test(validation, test).set_index("rule")
        for rule in held.index:
            rows.append(
                {
                    "regime": run.regime,
                    "setting": run.setting,
                    "seed": run.seed,
                    "rule": rule,
                    "val_split_half_f1": held.loc[rule, "f1"] * 100,
                    "test_f1": tested.loc[rule, "f1"] * 100,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    """Write results.csv (and thresholds.csv) beside this file and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="*", type=Path, default=[Path("logs/fit/multiruns")])
    parser.add_argument("--thresholds", action="store_true")
    parser.add_argument("--reference", default="cosine", help="the AU settings' reference")
    args = parser.parse_args()
    table = run_rows(args.logs)
    table.drop(columns="run").to_csv(HERE / "results.csv", index=False, float_format="%.2f")
    pd.set_option("display.width", 160)
    reference = {"au": args.reference, "emotion": "emotion_plain"}
    for column in ("val_score", "test_score"):
        print(f"\n{column}: setting - reference {reference}, paired by seed (95% t interval)")
        print(paired(table, column, reference).round(2).to_string(index=False))
    if args.thresholds:
        rules = threshold_rows(table[table.task == "au"])
        rules.to_csv(HERE / "thresholds.csv", index=False, float_format="%.2f")
        means = rules.groupby(["regime", "rule"])[["val_split_half_f1", "test_f1"]].mean()
        print("\nthreshold rules (mean over runs):\n" + means.round(2).to_string())


if __name__ == "__main__":
    main()
