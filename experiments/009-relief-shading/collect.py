"""Collect experiment 009: each checkpoint on the videos, posed and wild stills of both shadings.

Usage (from the repository root, after queue.sh):
    python experiments/009-relief-shading/collect.py [LOGS ...]   (default: logs/fit/multiruns)

results.csv: one row per (run, data, shading scored, split): average F1 at the checkpoint's
thresholds (tuned on its own video validation subjects), F1 at 0.5, ROC-AUC and the
all-positive baseline's F1. ``trained`` is the shading the run trained on, ``scored`` the one
it was scored on; the fit's own validation row holds its kept epoch's validation F1 only.
comparison_<data>-<scored>.csv: ``au.compare`` of relief- and mixed-trained against
flat-trained runs on that data's test subjects (test subjects resampled, the seeds as paired
replicates).
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
DATA = ("synthetic", "synthetic_posed", "synthetic_wild")
SHADINGS = ("flat", "relief")  # the renderings scored on
TRAINED = ("flat", "relief", "mixed")
SCORES = ("f1", "f1@0.5", "roc_auc", "all_positive_f1")


def record_row(folder: Path, trained: str, seed: int, data: str, scored: str, split: str) -> dict:
    """The scores of one record folder (a run's ``results`` or one of its evaluations)."""
    summary = json.loads((folder / "summary.json").read_text())
    scores = {k: summary[k] * 100 for k in SCORES}
    keys = {"trained": trained, "seed": seed, "data": data, "scored": scored, "split": split}
    return keys | scores | {"checkpoint_stage": summary.get("checkpoint_stage")}


def video_validation_row(run: Path, trained: str, seed: int) -> dict:
    """The run's own validation F1: that of the epoch whose checkpoint it kept (fit's choice)."""
    summary = json.loads((run / "results" / "summary.json").read_text())
    metrics = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["val/f1"])
    chosen = metrics.loc[metrics["epoch"] == summary["checkpoint_epoch"], "val/f1"].iloc[-1]
    keys = {"trained": trained, "seed": seed, "data": "synthetic", "scored": trained}
    row = keys | {"split": "val"}
    return row | {k: float(chosen) * 100 if k == "f1" else None for k in SCORES}


def source(run: Path, data: str, scored: str) -> Path:
    """Where a run's test-split record on ``data`` in shading ``scored`` lies."""
    trained = run.parent.name.removeprefix("009-")
    if data == "synthetic" and scored == trained:
        return run / "results"
    return run / "evaluation" / f"{data}-{scored}_test"


def main() -> None:
    """Write results.csv and the comparisons beside this file; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="*", type=Path, default=[Path("logs/fit/multiruns")])
    args = parser.parse_args()
    runs = sorted(run for logs in args.logs for run in logs.glob("009-*/seed*"))
    rows = []
    for run in runs:
        if not (run / "results" / "summary.json").is_file():
            continue  # not finished
        trained, seed = run.parent.name.removeprefix("009-"), int(run.name.removeprefix("seed"))
        rows.append(record_row(run / "results", trained, seed, "synthetic", trained, "test"))
        rows.append(video_validation_row(run, trained, seed))
        for data in DATA:
            for scored in SHADINGS:
                for split in ("val", "test"):
                    folder = run / "evaluation" / f"{data}-{scored}_{split}"
                    if (folder / "summary.json").is_file():
                        rows.append(record_row(folder, trained, seed, data, scored, split))
    table = pd.DataFrame(rows).sort_values(["data", "scored", "split", "trained", "seed"])
    table.to_csv(HERE / "results.csv", index=False, float_format="%.2f")
    means = table.groupby(["data", "scored", "split", "trained"])[list(SCORES)].mean().round(1)
    print(means.to_string())
    for data in DATA:
        for scored in SHADINGS:
            compare(runs, data, scored)


def compare(runs: list[Path], data: str, scored: str) -> None:
    """``au.compare`` of relief- and mixed-trained against flat-trained runs on one test set."""
    name = f"{data}-{scored}"
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            folder = source(run, data, scored)
            if (folder / "summary.json").is_file():
                copy = Path(tmp) / run.parent.name / run.name / "results"
                shutil.copytree(folder, copy)
                label_data(copy / "summary.json", name)
        groups = [str(Path(tmp) / f"009-{t}") for t in TRAINED if (Path(tmp) / f"009-{t}").is_dir()]
        out = Path(tmp) / "comparison"
        subprocess.run(
            [sys.executable, "-m", "au.compare", *groups, "--group-by", "experiment",
             "--baseline", "009-flat", "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        shutil.copy(out / "comparison.csv", HERE / f"comparison_{name}.csv")
        print(f"\n{name}: test, au.compare\n{(out / 'comparison.md').read_text()}")


def label_data(summary_path: Path, name: str) -> None:
    """Name the data a record scored as ``name`` (``<data>-<shading>``) in its ``data_read``.

    ``au.compare`` pairs runs that read the same data. A fit records the folder it read; the
    evaluations of this experiment (commit abef587) recorded none, so every copied record is
    given the label of the data set it scored, which this script knows.
    """
    summary = json.loads(summary_path.read_text())
    summary["data_read"] = {**(summary.get("data_read") or {}), "index": name}
    summary_path.write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
