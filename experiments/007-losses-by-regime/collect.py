"""Collect experiment 007's runs into results.csv and the per-regime comparisons.

Usage (from the repository root, after queue.sh):
    python experiments/007-losses-by-regime/collect.py [LOGS]

results.csv: one row per run, with its validation average F1 (the best epoch's ``val/f1``,
which chose the checkpoint: the figure the choice is made on) and its test figures.
comparison_<regime>.csv: ``au.compare``'s table per regime (test subjects resampled within
the fold, seeds as paired replicates), grouped by setting, baseline BCE;
pr_micro_vs_macro_<regime>.csv: P·R as eq. (6) against its per-AU form.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REGIMES = ("synthetic", "synthetic_posed", "synthetic_wild")
SETTINGS = ("bce", "pr", "pr_macro", "lsep", "constant")


def run_row(run: Path) -> dict:
    """One finished run: regime, setting, seed, validation and test figures (percent)."""
    sweep = run.parent.name.removeprefix("007-")
    regime = next(r for r in sorted(REGIMES, key=len, reverse=True) if sweep.startswith(r))
    summary = json.loads((run / "results" / "summary.json").read_text())
    metrics = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["val/f1"])
    chosen = metrics.loc[metrics["epoch"] == summary["checkpoint_epoch"], "val/f1"]
    return {
        "regime": regime,
        "setting": sweep.removeprefix(regime + "-"),
        "seed": summary["seed"],
        "fold": summary["fold"],
        "val_f1": float(chosen.iloc[-1]) * 100,
        "test_f1": summary["f1"] * 100,
        "test_f1@0.5": summary["f1@0.5"] * 100,
        "test_roc_auc": summary["roc_auc"] * 100,
        "checkpoint_stage": summary.get("checkpoint_stage"),
        "checkpoint_epoch": summary["checkpoint_epoch"],
        "train_seconds": summary["train_seconds"],
    }


def validation_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per regime and setting: mean validation F1 and its seed-paired difference to BCE."""
    base = table[table.setting == "bce"][["regime", "seed", "val_f1"]]
    pairs = table.merge(base, on=["regime", "seed"], suffixes=("", "_bce"))
    pairs["val_delta"] = pairs["val_f1"] - pairs["val_f1_bce"]
    grouped = pairs.groupby(["regime", "setting"])
    return pd.DataFrame(
        {
            "runs": grouped.size(),
            "val_f1": grouped["val_f1"].mean(),
            "val_delta_vs_bce": grouped["val_delta"].mean(),
            "val_delta_min": grouped["val_delta"].min(),
            "val_delta_max": grouped["val_delta"].max(),
            "test_f1": grouped["test_f1"].mean(),
        }
    ).round(2)


def main() -> None:
    """Write results.csv and comparison_<regime>.csv beside this file; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="?", type=Path, default=Path("logs/fit/multiruns"))
    args = parser.parse_args()
    runs = sorted(p.parent.parent for p in args.logs.glob("007-*/*/results/summary.json"))
    table = pd.DataFrame([run_row(run) for run in runs])
    table.to_csv(HERE / "results.csv", index=False, float_format="%.2f")
    pd.set_option("display.width", 160)
    print(validation_table(table).to_string())
    for regime in REGIMES:
        compare(args.logs, regime, SETTINGS, "bce", f"comparison_{regime}.csv")
        compare(args.logs, regime, ("pr", "pr_macro"), "pr_macro",
                f"pr_micro_vs_macro_{regime}.csv")  # fmt: skip


def compare(logs: Path, regime: str, settings, baseline: str, name: str) -> None:
    """``au.compare`` of ``settings`` on ``regime`` against ``baseline``; its table as ``name``."""
    folders = [str(logs / f"007-{regime}-{s}") for s in settings]
    out = Path("/tmp") / f"au-007-{regime}-{baseline}"
    subprocess.run(
        [sys.executable, "-m", "au.compare", *folders, "--group-by", "experiment",
         "--baseline", baseline, "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.copy(out / "comparison.csv", HERE / name)
    print(f"\n{regime}: test, au.compare\n{(out / 'comparison.md').read_text()}")


if __name__ == "__main__":
    main()
