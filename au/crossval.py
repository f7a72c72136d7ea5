"""``python -m au.crossval``: k-fold subject-independent cross-validation, mean ± std per AU.

Runs :func:`au.fit.run_fit` once per test fold (in this process, each fold in
``<output>/fold<k>/``), then writes, from the folds' run records, the task's scores of every
fold with mean ± std over folds (:data:`TASK_FOLD_SCORES`) and ``crossval_summary.json``
(``<score>_mean``/``_std`` of each average, the per-target means, and ``headline``, the
task's headline):

- ``task=au``: ``crossval_f1.csv`` / ``.md``: per-AU and average test F1 (and ROC-AUC in the
  summary: ``f1_mean``, ``roc_auc_mean``, ``f1_per_au``).
- ``task=intensity``: ``crossval_icc.csv`` / ``.md``: per-AU and average ICC(3,1) (PCC and MAE
  in the summary: ``icc_mean``, ``pearson_mean``, ``mae_mean``, ``icc_per_au``).
- ``task=emotion``: ``crossval_emotion_f1.csv`` / ``.md``: per-class F1 and the macro-F1
  (``macro_f1_mean``, ``macro_auc_mean``, ``f1_per_class``).
- ``task=joint``: both the AU and the emotion files.

Examples:
    python -m au.crossval experiment=lsep                       # all folds of data.num_folds
    python -m au.crossval experiment=pr backbone=mobilenet_v1 folds=[1,2]
    python -m au.fit -m data.fold=1,2,3 && python -m au.crossval summarize=logs/fit/multiruns/DATE
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, open_dict

from au.errors import RunFolderError
from au.evaluation.run_record import (
    RESULTS_DIR,
    SUMMARY,
    RunRecord,
    find_run_records,
    read_run_record,
)
from au.fit import CONFIG_KEYS as FIT_KEYS
from au.fit import run_fit
from au.run.folder import bad_input_stops_run
from au.tasks.registry import TASKS


@dataclass(frozen=True)
class FoldScores:
    """A table of a fold's run record that cross-validation aggregates.

    Attributes:
        name: File stem (``crossval_<name>.csv`` / ``.md``).
        table: The record's table (``test_<table>.csv``).
        key: Its column naming the targets (``au``, ``class``).
        scores: Columns aggregated; the first is the one tabled.
        caption: What the markdown table shows (``{folds}``: the number of folds).
        averages: Score -> ``summary.json`` key holding its average where the table has no
            ``average`` row (and naming the crossval summary's ``<key>_mean``).
        scale: Factor of the shown values (100: percent).
        digits: Decimals shown.
    """

    name: str
    table: str
    key: str
    scores: tuple[str, ...]
    caption: str
    averages: Mapping[str, str] = field(default_factory=dict)
    scale: float = 100.0
    digits: int = 1

    def fold_table(self, record: RunRecord) -> pd.DataFrame:
        """The record's table: one row per target and an ``average`` row."""
        table = record.table(self.table)
        if self.averages:
            average = {self.key: "average"}
            average |= {score: record.summary.get(key) for score, key in self.averages.items()}
            table = pd.concat([table, pd.DataFrame([average])], ignore_index=True)
        return table[[self.key, *self.scores]].astype({score: float for score in self.scores})


#: The types of the keys au.crossval reads itself: au.fit's and its own (configs/crossval.yaml).
CONFIG_KEYS: dict[str, object] = {**FIT_KEYS, "folds": list[int] | None, "summarize": str | None}

AU_OCCURRENCE = FoldScores(
    "f1", "metrics", "au", ("f1", "roc_auc"),
    "Test F1 (%) per fold and mean ± std over {folds} folds "
    "(thresholds tuned on each fold's validation subjects)",
)  # fmt: skip
INTENSITY = FoldScores(
    "icc", "intensity_metrics", "au", ("icc", "pearson", "mae"),
    "Test ICC(3,1) per fold and mean ± std over {folds} folds", scale=1.0, digits=2,
)  # fmt: skip
EMOTION = FoldScores(
    "emotion_f1", "emotion_metrics", "class", ("f1", "auc"),
    "Test F1 (%) per emotion (Avg.: macro-F1) per fold and mean ± std over {folds} folds",
    averages={"f1": "macro_f1", "auc": "macro_auc"},
)  # fmt: skip
#: What cross-validation aggregates of each task's records.
TASK_FOLD_SCORES: dict[str, tuple[FoldScores, ...]] = {
    "au": (AU_OCCURRENCE,),
    "intensity": (INTENSITY,),
    "emotion": (EMOTION,),
    "joint": (AU_OCCURRENCE, EMOTION),
}


def aggregate_folds(
    per_fold: dict[int, pd.DataFrame], column: str = "f1", key: str = "au"
) -> pd.DataFrame:
    """One ``column`` (e.g. F1) per target and fold, with mean and std (ddof=1) over folds.

    Args:
        per_fold: Fold number -> that fold's table with one row per target (e.g.
            :func:`au.evaluation.occurrence_metrics.per_au_metrics`) and a final ``average``
            row.
        column: The metric to aggregate.
        key: The column naming the targets (``au``, ``class``).

    Returns:
        Index ``key`` (the targets, then ``average``); columns ``fold<k>``, ``mean``, ``std``.
        The ``average`` row aggregates each fold's average over targets (e.g. Avg.F1).
    """
    if not per_fold:
        raise ValueError("no fold results to aggregate")
    wide = pd.DataFrame(
        {f"fold{k}": table.set_index(key)[column] for k, table in sorted(per_fold.items())}
    )
    folds = wide.columns
    return wide.assign(mean=wide[folds].mean(axis=1), std=wide[folds].std(axis=1, ddof=1))


def format_mean_std(
    table: pd.DataFrame, scale: float = 100.0, digits: int = 1, label: str = "AU"
) -> pd.DataFrame:
    """Fold columns scaled (100: percent) and a ``mean ± std`` column, as strings for markdown."""
    folds = [c for c in table.columns if c.startswith("fold")]
    shown = (scale * table[folds]).map(lambda v: "–" if pd.isna(v) else f"{v:.{digits}f}")
    mean, std = scale * table["mean"], scale * table["std"].fillna(0.0)
    shown["mean ± std"] = [
        f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(mean, std, strict=True)
    ]
    return shown.rename(index={"average": "Avg."}).rename_axis(label)


def write_fold_scores(
    per_fold: dict[int, pd.DataFrame], out_dir: Path, view: FoldScores = AU_OCCURRENCE
) -> tuple[str, dict]:
    """Write ``crossval_<view.name>.csv``/``.md``; return the markdown and summary entries.

    The summary entries are ``<score>_mean``/``_std`` of the average row of every score (named
    by :attr:`FoldScores.averages` where given) and ``<first score>_per_<key>``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {score: aggregate_folds(per_fold, score, view.key) for score in view.scores}
    first = tables[view.scores[0]]
    first.to_csv(out_dir / f"crossval_{view.name}.csv")
    shown = format_mean_std(first, view.scale, view.digits, "AU" if view.key == "au" else view.key)
    caption = view.caption.format(folds=len(per_fold))
    text = f"{caption}:\n\n" + shown.to_markdown(disable_numparse=True) + "\n"
    (out_dir / f"crossval_{view.name}.md").write_text(text)
    summary = {}
    for score, table in tables.items():
        name = view.averages.get(score, score)
        summary |= {f"{name}_mean": table.loc["average", "mean"]}
        summary |= {f"{name}_std": table.loc["average", "std"]}
    summary[f"{view.scores[0]}_per_{view.key}"] = first["mean"].drop("average").to_dict()
    return text, summary


def write_crossval(records: dict[int, RunRecord], out_dir: Path) -> str:
    """Write the task's fold tables and ``crossval_summary.json``; return the markdown.

    Raises:
        RunFolderError: If the records mix tasks or their task has no fold summary.
        ValueError: If a record lacks a table its task writes.
    """
    tasks = {record.facts.get("task") or "au" for record in records.values()}
    if len(tasks) != 1:
        raise RunFolderError(f"the fold runs mix tasks {sorted(tasks)}; summarise one setting")
    task = tasks.pop()
    if task not in TASK_FOLD_SCORES:
        raise RunFolderError(f"cannot cross-validate task={task!r}: known {list(TASK_FOLD_SCORES)}")
    headline = TASKS[task].headline
    summary, texts = {"folds": sorted(records), "task": task, "headline": headline}, []
    for view in TASK_FOLD_SCORES[task]:
        per_fold = {fold: view.fold_table(record) for fold, record in records.items()}
        text, entries = write_fold_scores(per_fold, out_dir, view)
        texts.append(text)
        summary |= entries
    summary = json.loads(pd.Series(summary).to_json())
    (out_dir / "crossval_summary.json").write_text(json.dumps(summary, indent=2))
    return "\n".join(texts)


def run_fold(config: DictConfig, fold: int, out_dir: Path) -> RunRecord:
    """Train and test on one test fold in ``out_dir``; return its run record."""
    fold_config = copy.deepcopy(config)
    with open_dict(fold_config):
        fold_config.data.fold = fold
        fold_config.paths.output_dir = str(out_dir)
        fold_config.test = True
    print(f"\n=== cross-validation: test fold {fold} -> {out_dir}")
    run_fit(fold_config)
    return read_run_record(out_dir / RESULTS_DIR)


def run_crossval(config: DictConfig) -> str:
    """All folds of ``config`` (or ``config.folds``), then the mean ± std tables."""
    out_dir = Path(config.paths.output_dir)
    folds: Iterable[int] = config.folds or range(1, config.data.num_folds + 1)
    records = {int(k): run_fold(config, int(k), out_dir / f"fold{k}") for k in folds}
    return write_crossval(records, out_dir)


def collect_fold_runs(root: Path) -> dict[int, RunRecord]:
    """The run record of every finished run under ``root``, by fold.

    A record that cannot be read is skipped with a warning naming its run.

    Raises:
        RunFolderError: If a run's fold is unknown, there is no finished run, or two runs test the
            same fold.
    """
    per_fold: dict[int, RunRecord] = {}
    for folder in find_run_records(root):
        try:
            record = read_run_record(folder)
        except (OSError, ValueError, KeyError) as err:
            warnings.warn(f"skipped run {folder.parent}: {err}", stacklevel=2)
            continue
        if record.facts.get("fold") is None:
            raise RunFolderError(
                f"cannot tell the test fold of {folder.parent}: none in its record"
            )
        fold = int(record.facts["fold"])
        if fold in per_fold:
            raise RunFolderError(f"two runs under {root} test fold {fold}; summarise one setting")
        per_fold[fold] = record
    if not per_fold:
        raise RunFolderError(f"no readable finished run (*/{RESULTS_DIR}/{SUMMARY}) under {root}")
    print(f"summarising {len(per_fold)} runs (folds {sorted(per_fold)}) under {root}")
    return per_fold


@hydra.main(version_base="1.3", config_path="../configs", config_name="crossval")
def main(config: DictConfig) -> float:
    """Hydra entry point; prints the tables and returns the task's mean headline over folds."""
    with bad_input_stops_run(config, CONFIG_KEYS):
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
    summary = json.loads((out_dir / "crossval_summary.json").read_text())
    return float(summary[f"{summary['headline']}_mean"])


if __name__ == "__main__":
    main()
