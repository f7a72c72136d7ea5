"""Collect experiment 008: each checkpoint on its own test fold and on the other regimes.

Usage (from the repository root, after queue.sh):
    python experiments/008-cross-style/collect.py [LOGS]

results.csv: one row per (run, data, split): average F1 at the checkpoint's thresholds (tuned on
the video validation subjects), F1 at 0.5, ROC-AUC and the all-positive baseline's F1 (the
video validation row: the fit's own validation F1 of the kept epoch only).
comparison_<regime>.csv: ``au.compare`` of style against plain on that regime's test subjects
(test subjects resampled, seeds as paired replicates).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
TARGETS = ("synthetic_posed", "synthetic_wild")
SCORES = ("f1", "f1@0.5", "roc_auc", "all_positive_f1")


def record_row(folder: Path, setting: str, seed: int, data: str, split: str) -> dict:
    """The scores of one record folder (a run's ``results`` or one of its evaluations)."""
    summary = json.loads((folder / "summary.json").read_text())
    scores = {k: summary[k] * 100 for k in SCORES}
    return {"setting": setting, "seed": seed, "data": data, "split": split, **scores}


def video_validation_row(run: Path, setting: str, seed: int) -> dict:
    """The run's own validation F1: that of the epoch whose checkpoint it kept (fit's choice)."""
    summary = json.loads((run / "results" / "summary.json").read_text())
    metrics = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["val/f1"])
    chosen = metrics.loc[metrics["epoch"] == summary["checkpoint_epoch"], "val/f1"].iloc[-1]
    row = {"setting": setting, "seed": seed, "data": "synthetic", "split": "val"}
    return row | {k: float(chosen) * 100 if k == "f1" else None for k in SCORES}


def main() -> None:
    """Write results.csv and comparison_<regime>.csv beside this file; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="?", type=Path, default=Path("logs/fit/multiruns"))
    args = parser.parse_args()
    rows = []
    for run in sorted(args.logs.glob("008-*/seed*")):
        if not (run / "results" / "summary.json").is_file():
            continue  # not finished
        setting, seed = run.parent.name.removeprefix("008-"), int(run.name.removeprefix("seed"))
        rows.append(record_row(run / "results", setting, seed, "synthetic", "test"))
        rows.append(video_validation_row(run, setting, seed))
        for target in TARGETS:
            for split in ("val", "test"):
                folder = run / "evaluation" / f"{target}_{split}"
                if (folder / "summary.json").is_file():
                    rows.append(record_row(folder, setting, seed, target, split))
    table = pd.DataFrame(rows)
    table.to_csv(HERE / "results.csv", index=False, float_format="%.2f")
    means = table.groupby(["data", "split", "setting"])[list(SCORES)].mean().round(1)
    print(means.to_string())
    for target in ("synthetic", *TARGETS):
        compare(args.logs, target)


def compare(logs: Path, target: str) -> None:
    """``au.compare`` of style against plain on ``target``'s test subjects."""
    with tempfile.TemporaryDirectory() as tmp:
        for run in sorted(logs.glob("008-*/seed*")):
            source = run / "results" if target == "synthetic" else run / "evaluation"
            source = source if target == "synthetic" else source / f"{target}_test"
            if (source / "summary.json").is_file():
                shutil.copytree(source, Path(tmp) / run.parent.name / run.name / "results")
        out = Path(tmp) / "comparison"
        subprocess.run(
            [sys.executable, "-m", "au.compare", str(Path(tmp) / "008-plain"),
             str(Path(tmp) / "008-style"), "--group-by", "experiment", "--baseline",
             "008-plain", "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        shutil.copy(out / "comparison.csv", HERE / f"comparison_{target}.csv")
        print(f"\n{target}: test, au.compare\n{(out / 'comparison.md').read_text()}")


if __name__ == "__main__":
    main()
