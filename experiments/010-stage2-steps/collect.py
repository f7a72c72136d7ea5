"""Collect experiment 010: stage 2 by epochs (6) or by at least 400 optimizer steps.

Usage (from the repository root, after queue.sh):
    python experiments/010-stage2-steps/collect.py [LOGS ...]   (default: logs/fit/multiruns)

results.csv: one row per run: block (posed, wild: AU detection; emotion: the emotion head on the
posed stills), setting (epochs, steps), seed, the monitored validation score of the kept epoch
(``val_score``: val/f1, or val/macro_f1 for emotion), the test headline (``test_score``: average
F1, or macro-F1), ROC-AUC (AU) or accuracy (emotion), the epochs stage 2 ran, and the seconds
of training. comparison_<block>.csv: ``au.compare`` of steps against epochs on the block's test
subjects (test subjects resampled, the seeds as paired replicates).
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
EXPERIMENT = "010"
SETTINGS = ("epochs", "steps")  # baseline first
BLOCKS = ("posed", "wild", "emotion")


#: The blocks that are not AU detection: the monitored validation key, the test headline, and
#: the column and summary key of a second test score (AU detection: val/f1, f1, ROC-AUC).
SCORES = {
    "emotion": ("val/macro_f1", "macro_f1", "roc_auc_or_accuracy", "accuracy"),
    "intensity": ("val/icc", "icc", "mae", "mae"),
}
AU_SCORES = ("val/f1", "f1", "roc_auc_or_accuracy", "roc_auc")


def run_row(run: Path) -> dict:
    """One run's scores, from its summary and metrics log (``<experiment>-<block>-<setting>``).

    Scores are percentages, except an intensity block's ``mae`` (intensity units, 0-5).
    """
    _, block, setting = run.parent.name.split("-")
    summary = json.loads((run / "results" / "summary.json").read_text())
    monitor, headline, column, key = SCORES.get(block, AU_SCORES)
    metrics = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=[monitor])
    kept = metrics.loc[metrics["epoch"] == summary["checkpoint_epoch"], monitor].iloc[-1]
    epochs = int(metrics["epoch"].max()) + 1
    return {
        "block": block,
        "setting": setting,
        "seed": int(run.name.removeprefix("seed")),
        "val_score": float(kept) * 100,
        "test_score": summary[headline] * 100,
        column: summary[key] * (1 if key == "mae" else 100),
        "epochs": epochs,
        "checkpoint_epoch": summary["checkpoint_epoch"],
        "checkpoint_stage": summary.get("checkpoint_stage"),
        "train_seconds": round(summary["train_seconds"]),
    }


def collect(
    experiment: str,
    settings: tuple[str, str],
    blocks: tuple[str, ...],
    out_dir: Path,
    description: str | None = __doc__,
) -> None:
    """Write results.csv and comparison_<block>.csv into ``out_dir``; print the tables.

    Args:
        experiment: The runs' prefix (``logs/fit/multiruns/<experiment>-<block>-<setting>``).
        settings: The baseline setting, then the one compared with it.
        blocks: The blocks to compare.
        out_dir: The experiment's folder.
        description: The calling script's usage, for ``--help``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("logs", nargs="*", type=Path, default=[Path("logs/fit/multiruns")])
    args = parser.parse_args()
    runs = sorted(
        run
        for logs in args.logs
        for run in logs.glob(f"{experiment}-*/seed*")
        if (run / "results" / "summary.json").is_file()
    )
    table = pd.DataFrame([run_row(run) for run in runs])
    table.to_csv(out_dir / "results.csv", index=False, float_format="%.2f")
    columns = ["val_score", "test_score", "roc_auc_or_accuracy", "mae", "epochs", "train_seconds"]
    columns = [column for column in columns if column in table]
    print(table.groupby(["block", "setting"])[columns].mean().round(1).to_string())
    for block in blocks:
        group = f"{experiment}-{block}"
        block_runs = [run for run in runs if run.parent.name.startswith(f"{group}-")]
        compare(block_runs, [f"{group}-{setting}" for setting in settings], out_dir, block)


def compare(runs: list[Path], groups: list[str], out_dir: Path, block: str) -> None:
    """``au.compare`` of ``groups[1]`` against ``groups[0]`` on one block's test subjects."""
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            shutil.copytree(run / "results", Path(tmp) / run.parent.name / run.name / "results")
        out = Path(tmp) / "comparison"
        subprocess.run(
            [sys.executable, "-m", "au.compare", *(str(Path(tmp) / g) for g in groups),
             "--group-by", "experiment", "--baseline", groups[0], "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        shutil.copy(out / "comparison.csv", out_dir / f"comparison_{block}.csv")
        print(f"\n{block}: test, au.compare\n{(out / 'comparison.md').read_text()}")


if __name__ == "__main__":
    collect(EXPERIMENT, SETTINGS, BLOCKS, HERE)
