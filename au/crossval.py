"""``python -m au.crossval``: k-fold subject-independent cross-validation, mean ± std per AU.

Runs :func:`au.fit.run_fit` once per test fold (in this process, each fold in
``<output>/fold<k>/``), then writes ``crossval_f1.csv`` / ``crossval_f1.md`` (per-AU and average
test F1 of every fold, with mean ± std over folds) and ``crossval_summary.json``.

Examples:
    python -m au.crossval experiment=lsep                       # all folds of data.num_folds
    python -m au.crossval experiment=pr backbone=mobilenet_v1 folds=[1,2]
    python -m au.fit -m data.fold=1,2,3 && python -m au.crossval summarize=logs/fit/multiruns/DATE
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, open_dict

from au.evaluation.run_record import RESULTS_DIR, SUMMARY, find_run_records, read_run_record
from au.fit import run_fit
from au.run.folder import bad_input_stops_run


def aggregate_folds(per_fold: dict[int, pd.DataFrame], column: str = "f1") -> pd.DataFrame:
    """One ``column`` (e.g. F1) per AU and fold, with mean and std (ddof=1) over folds.

    Args:
        per_fold: Fold number -> that fold's
            :func:`au.evaluation.occurrence_metrics.per_au_metrics` table (one row per AU and a
            final ``average`` row).
        column: The metric to aggregate.

    Returns:
        Index ``au`` (the AUs, then ``average``); columns ``fold<k>``, ``mean``, ``std``. The
        ``average`` row aggregates each fold's average over AUs (Avg.F1).
    """
    if not per_fold:
        raise ValueError("no fold results to aggregate")
    wide = pd.DataFrame(
        {f"fold{k}": table.set_index("au")[column] for k, table in sorted(per_fold.items())}
    )
    folds = wide.columns
    return wide.assign(mean=wide[folds].mean(axis=1), std=wide[folds].std(axis=1, ddof=1))


def format_mean_std(table: pd.DataFrame, scale: float = 100.0, digits: int = 1) -> pd.DataFrame:
    """Fold columns in percent and a ``mean ± std`` column, as strings for markdown."""
    folds = [c for c in table.columns if c.startswith("fold")]
    shown = (scale * table[folds]).map(lambda v: "–" if pd.isna(v) else f"{v:.{digits}f}")
    mean, std = scale * table["mean"], scale * table["std"].fillna(0.0)
    shown["mean ± std"] = [
        f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(mean, std, strict=True)
    ]
    return shown.rename(index={"average": "Avg."}).rename_axis("AU")


def write_crossval(per_fold: dict[int, pd.DataFrame], out_dir: Path) -> str:
    """Write ``crossval_f1.csv``/``.md`` and ``crossval_summary.json``; return the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    f1 = aggregate_folds(per_fold, "f1")
    auc = aggregate_folds(per_fold, "roc_auc")
    f1.to_csv(out_dir / "crossval_f1.csv")
    text = (
        f"Test F1 (%) per fold and mean ± std over {len(per_fold)} folds "
        "(thresholds tuned on each fold's validation subjects):\n\n"
        + format_mean_std(f1).to_markdown(disable_numparse=True)
        + "\n"
    )
    (out_dir / "crossval_f1.md").write_text(text)
    summary = {
        "folds": sorted(per_fold),
        "f1_mean": f1.loc["average", "mean"],
        "f1_std": f1.loc["average", "std"],
        "roc_auc_mean": auc.loc["average", "mean"],
        "roc_auc_std": auc.loc["average", "std"],
        "f1_per_au": f1["mean"].drop("average").to_dict(),
    }
    summary = json.loads(pd.Series(summary).to_json())
    (out_dir / "crossval_summary.json").write_text(json.dumps(summary, indent=2))
    return text


def run_fold(config: DictConfig, fold: int, out_dir: Path) -> pd.DataFrame:
    """Train and test on one test fold in ``out_dir``; return its per-AU test metrics."""
    fold_config = copy.deepcopy(config)
    with open_dict(fold_config):
        fold_config.data.fold = fold
        fold_config.paths.output_dir = str(out_dir)
        fold_config.test = True
    print(f"\n=== cross-validation: test fold {fold} -> {out_dir}")
    run_fit(fold_config)
    return read_run_record(out_dir / RESULTS_DIR).metrics


def run_crossval(config: DictConfig) -> str:
    """All folds of ``config`` (or ``config.folds``), then the mean ± std tables."""
    out_dir = Path(config.paths.output_dir)
    folds: Iterable[int] = config.folds or range(1, config.data.num_folds + 1)
    per_fold = {int(k): run_fold(config, int(k), out_dir / f"fold{k}") for k in folds}
    return write_crossval(per_fold, out_dir)


def collect_fold_runs(root: Path) -> dict[int, pd.DataFrame]:
    """The per-AU test metrics of every finished run under ``root``, by fold.

    Raises:
        ValueError: If a run's fold is unknown, there is no finished run, or two runs test the
            same fold.
    """
    per_fold: dict[int, pd.DataFrame] = {}
    for folder in find_run_records(root):
        try:
            record = read_run_record(folder)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            warnings.warn(f"skipped run {folder.parent}: {err}", stacklevel=2)
            continue
        if record.facts.get("fold") is None:
            raise ValueError(f"cannot tell the test fold of {folder.parent}: none in its record")
        fold = int(record.facts["fold"])
        if fold in per_fold:
            raise ValueError(f"two runs under {root} test fold {fold}; summarise one setting")
        per_fold[fold] = record.metrics
    if not per_fold:
        raise ValueError(f"no readable finished run (*/{RESULTS_DIR}/{SUMMARY}) under {root}")
    print(f"summarising {len(per_fold)} runs (folds {sorted(per_fold)}) under {root}")
    return per_fold


@hydra.main(version_base="1.3", config_path="../configs", config_name="crossval")
def main(config: DictConfig) -> float:
    """Hydra entry point; prints the table and returns the mean average F1 over folds."""
    with bad_input_stops_run(config):
        return _run(config)


def _run(config: DictConfig) -> float:
    if config.summarize:
        root = Path(config.summarize).expanduser()
        text = write_crossval(collect_fold_runs(root), root)
        out_dir = root
    else:
        text = run_crossval(config)
        out_dir = Path(config.paths.output_dir)
    print("\n" + text + f"\nresults: {out_dir}")
    return float(json.loads((out_dir / "crossval_summary.json").read_text())["f1_mean"])


if __name__ == "__main__":
    main()
