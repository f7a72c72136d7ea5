"""``python -m au.compare``: experiments side by side, aggregated over seeds.

Reads finished runs (local run folders, or a W&B project), groups them by (loss, backbone) or
other keys and writes one table: average F1 mean ± std over seeds, the paired difference to a
baseline with its 95% confidence interval (paired by seed and fold; test subjects resampled
within folds and the seed-to-seed spread beyond them: :mod:`au.evaluation.paired_bootstrap`)
and a verdict ("better", "worse" or "no
detectable difference at this sample size"), per-AU F1, parameter count and training time; as
markdown (``comparison.md``), CSV (``comparison.csv``, ``per_au_deltas.csv`` with the per-AU
differences and their intervals, ``runs.csv`` with one row per run), a grouped bar chart
(``comparison_f1.png``) and the differences with their intervals (``comparison_deltas.png``).
A run that cannot be read is skipped with a warning naming its file. Runs that cannot be
compared stop the command with one line naming them (exit 2;
:mod:`au.evaluation.comparison_checks`): a group or a difference mixing tasks or AU sets, a
pair of runs that read different data, the same replicate twice in a group, a baseline that
names no group.

With ``--frames FILTER`` every AU run is scored on the test frames whose index row matches a
filter (e.g. ``"low_light == 1"`` or ``"abs(roll) >= 5"`` on the synthetic set; comparisons of
columns with values only, never code: :mod:`au.evaluation.frame_subset`), intervals included.

Examples:
    python -m au.compare logs/fit/ablations/loss/DATE --baseline bce
    python -m au.compare runs/clahe runs/default --group-by experiment --baseline bce \
        --frames "low_light == 1"
    python -m au.compare logs/fit/multiruns/DATE --baseline bce/mobilenetv2_100 --out cmp/
    python -m au.compare logs/noise/default logs/noise/cosine --group-by variant \
        --baseline default                      # two settings of one command, paired by seed
    python -m au.compare --wandb ENTITY/au --baseline bce        # needs `wandb login`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from au.aus import au_number
from au.evaluation.comparison_checks import (
    ComparisonError,
    check_baseline_exists,
    check_groups,
    check_replicates,
    check_same_data,
    check_same_question,
)
from au.evaluation.comparison_report import (
    SCORES,
    with_group_labels,
    write_comparison,
)
from au.evaluation.frame_subset import FrameQueryError, parse_frame_filter, subset_counts
from au.evaluation.paired_bootstrap import SubjectCounts, paired_bootstrap, t_interval, verdict
from au.evaluation.run_record import RESULTS_DIR, find_run_records, read_run_record, run_facts
from au.evaluation.subject_stats import emotion_counts, intensity_moments
from au.tasks.registry import TASKS

#: What identifies a run; runs of one group that differ in the others are its replicates.
RUN_KEYS = ("task", "experiment", "loss", "decision", "backbone", "data", "fold", "seed")
#: Keys a comparison can group by: the run keys, and ``variant`` (see :func:`run_variant`).
GROUP_KEYS = (*RUN_KEYS, "variant")
#: Overrides that pick a replicate, not a variant: left out of :func:`run_variant`.
REPLICATE_OVERRIDES = ("seed", "data.fold")
#: Replicates of two groups are paired on these (same seed, same test fold, same data).
PAIR_KEYS = ("data", "fold", "seed")


def read_local_run(run_dir: Path, frames: str | None = None) -> dict:
    """One run: its keys, average F1 (+ at 0.5), per-AU F1, parameter count, training time.

    An intensity or emotion run is compared on its task's headline instead (``icc``,
    ``macro_f1``; named in the ``score`` column), with per-subject statistics from its
    per-frame predictions where it has them (:mod:`au.evaluation.subject_stats`).
    ``data_id`` is the data the run read (``data_read.index``, else the data set name) and
    ``targets`` its AUs or emotion classes, comma-joined.
    With ``frames`` (a filter on the run's index) an AU run's F1 and counts are those of
    the matching test frames (:func:`au.evaluation.frame_subset.subset_counts`); F1 at 0.5 and
    ROC-AUC are then left out, and ``frames`` holds the number of frames.

    Read through :func:`au.evaluation.run_record.read_run_record` (``run_dir/results``).
    """
    record = read_run_record(Path(run_dir) / RESULTS_DIR)
    row = {"run": str(run_dir)}
    row.update({key: record.facts.get(key) for key in RUN_KEYS})
    row["variant"] = run_variant(Path(run_dir))
    row["data_id"] = (record.summary.get("data_read") or {}).get("index") or row["data"]
    row["targets"] = run_targets(record)
    row.update({key: record.summary.get(key) for key in ("f1", *SCORES)})
    row.update({key: record.facts.get(key) for key in ("params", "train_seconds")})
    row["task"] = row.get("task") or "au"  # records older than the task key are AU runs
    headline = TASKS[row["task"]].headline
    if headline not in record.summary:  # e.g. a record written before its task had a headline
        headline = "f1"
    row["score"] = headline
    if headline != "f1":  # intensity / emotion: their headline is the compared score
        row["f1"] = record.summary.get(headline)
        return row | headline_counts(record, headline)
    if frames:
        return row | _frame_subset(record, frames, run_dir)
    per_au = record.metrics[lambda table: table["au"] != "average"]
    row.update({f"f1/{au}": f1 for au, f1 in zip(per_au["au"], per_au["f1"], strict=True)})
    if record.has_table("predictions"):
        row["counts"] = SubjectCounts.from_predictions(record.table("predictions"))
    return row


def run_targets(record) -> str | None:
    """A run's AUs (AU or intensity metrics table) or emotion classes, comma-joined."""
    for name in ("metrics", "intensity_metrics"):
        if record.has_table(name):
            return ",".join(a for a in record.table(name)["au"].astype(str) if a != "average")
    classes = record.summary.get("emotion_classes")
    return ",".join(classes) if classes else None


def headline_counts(record, headline: str) -> dict:
    """``{"counts": ...}`` of an ICC or emotion macro-F1 headline, if its predictions exist."""
    if headline == "icc" and record.has_table("intensity_predictions"):
        return {"counts": intensity_moments(record.table("intensity_predictions"))}
    classes = record.summary.get("emotion_classes")
    if headline == "macro_f1" and classes and record.has_table("emotion_predictions"):
        predictions = record.table("emotion_predictions")
        if "predicted" in predictions:
            return {"counts": emotion_counts(predictions, classes)}
    return {}


def run_variant(run_dir: Path) -> str:
    """The command-line overrides that made a run, other than its seed and test fold.

    Read from Hydra's ``.hydra/overrides.yaml`` in the run folder and sorted, e.g.
    ``schedule.stage2_epochs=12 schedule.stage2_lr_decay=cosine``; ``default`` for a run
    of the configured defaults, ``unknown`` when the file is missing. Grouping by it
    (``--group-by variant``) compares any two settings run over the same seeds.
    """
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return "unknown"
    overrides = yaml.safe_load(path.read_text()) or []
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in REPLICATE_OVERRIDES]
    return " ".join(sorted(kept)) or "default"


def _frame_subset(record, frames: str, run_dir: Path) -> dict:
    index = (record.summary.get("data_read") or {}).get("index")
    if not record.has_table("predictions") or not index:
        raise ValueError(f"--frames needs test_predictions.csv and data_read.index: {run_dir}")
    counts, scores, kept = subset_counts(record.table("predictions"), index, frames)
    return {**scores, "counts": counts, "frames": kept, "f1@0.5": np.nan, "roc_auc": np.nan}


def collect_local_runs(roots: Sequence[str | Path], frames: str | None = None) -> pd.DataFrame:
    """Every finished run (a folder with ``results/summary.json``) under ``roots``.

    A run whose files cannot be read is skipped with a warning naming the file. ``frames``:
    score each AU run on the matching test frames only (see :func:`read_local_run`).

    Raises:
        FileNotFoundError: If a root does not exist or none holds a readable finished run.
        FrameQueryError: If ``frames`` does not evaluate on a run's index.
    """
    rows = []
    for root in map(Path, roots):
        if not root.exists():
            raise FileNotFoundError(f"run folder {root} does not exist")
        for record in find_run_records(root):
            try:
                rows.append(read_local_run(record.parent, frames))
            except FrameQueryError:
                raise
            except (OSError, ValueError, KeyError, yaml.YAMLError, pd.errors.ParserError) as err:
                warnings.warn(f"skipped run {record.parent}: {err}", stacklevel=2)
    if not rows:
        raise FileNotFoundError(f"no readable finished run (*/results/summary.json) under {roots}")
    return pd.DataFrame(rows)


def collect_wandb_runs(project: str) -> pd.DataFrame:
    """Finished runs of a W&B project (``entity/project``), from their summaries and configs.

    Raises:
        SystemExit: When W&B is offline or not logged in, saying what to do instead.
    """
    mode = os.environ.get("WANDB_MODE", "")
    if mode.lower() in ("offline", "disabled"):
        raise SystemExit(
            f"W&B is offline (WANDB_MODE={mode}): cannot read project {project!r}. Compare "
            "local run folders instead (python -m au.compare RUN_DIR), or `wandb login`, "
            "`wandb sync RUN_DIR/wandb/offline-run-*` and unset WANDB_MODE."
        )
    import wandb

    try:
        runs = list(wandb.Api().runs(project, filters={"state": "finished"}))
    except Exception as err:  # noqa: BLE001 - any failure here means "no access to W&B"
        raise SystemExit(
            f"cannot read W&B project {project!r} ({err}); `wandb login` first, or compare "
            "local run folders: python -m au.compare RUN_DIR"
        ) from None
    rows = []
    for run in runs:
        summary = dict(run.summary)
        if "test/f1" not in summary:
            continue
        facts = run_facts(dict(run.config))
        row = {"run": "/".join(run.path), **{key: facts[key] for key in RUN_KEYS}}
        row["variant"] = "unknown"  # W&B keeps the resolved config, not the overrides
        row["data_id"] = facts["data"]
        row.update(f1=summary["test/f1"], params=summary.get("params"))
        row.update(
            {
                "f1@0.5": summary.get("test/f1@0.5"),
                "roc_auc": summary.get("test/auc"),
                "train_seconds": summary.get("train_seconds"),
            }
        )
        aus = [k.removeprefix("test/f1/") for k in summary if k.startswith("test/f1/AU")]
        row["targets"] = ",".join(aus) or None
        counts = summary.get("test/subject_counts")
        if counts:
            row["counts"] = SubjectCounts.from_json(json.loads(counts))
        rows.append(row | {f"f1/{au}": summary[f"test/f1/{au}"] for au in aus})
    return pd.DataFrame(rows)


def parse_baseline(spec: str, group_by: Sequence[str]) -> dict[str, str]:
    """``"bce"`` -> ``{loss: bce}``; also ``"bce/densenet201"`` or ``"backbone=densenet201"``.

    Positional parts fill the ``group_by`` keys in order; ``key=value`` parts name their key.
    Keys left out match each compared group's own value (``bce``: BCE on the same backbone).
    """
    baseline: dict[str, str] = {}
    positional = iter(group_by)
    for part in filter(None, spec.split("/")):
        key, sep, value = part.partition("=")
        if not sep or (key not in group_by and key not in GROUP_KEYS):
            key, value = next(positional, ""), part  # a value that holds "=", e.g. a variant
        if key not in group_by:
            raise ComparisonError(
                f"baseline {spec!r}: {part!r} names none of the keys {list(group_by)}"
            )
        baseline[key] = value
    return baseline


def replicate_pairs(runs: pd.DataFrame, group: str, reference: str, group_by) -> pd.DataFrame:
    """The runs of ``group`` and ``reference`` that share a replicate, one row per pair.

    Replicates pair up on the :data:`PAIR_KEYS` that are not grouped by (seed, fold, data);
    columns ``run``/``data_id``/``f1``/``counts`` come with suffixes ``_variant`` and
    ``_baseline``, and ``stratum`` names the test set (data set and fold) the pair was scored on.

    Raises:
        ComparisonError: If the groups answer different tasks or targets, or a pair's runs read
            different data (:mod:`au.evaluation.comparison_checks`).
    """
    check_same_question(runs, group, reference)
    pair_keys = [k for k in PAIR_KEYS if k not in group_by]
    columns = ["run", *pair_keys, "data_id", "f1", *(["counts"] if "counts" in runs else [])]
    variant = runs.loc[runs["group"] == group, columns]
    baseline = runs.loc[runs["group"] == reference, columns]
    pairs = variant.merge(baseline, on=pair_keys, suffixes=("_variant", "_baseline"))
    check_same_data(pairs)
    strata = [k for k in pair_keys if k != "seed"]
    values = pairs[strata].astype(str).itertuples(index=False)
    pairs["stratum"] = ["/".join(v) for v in values] if strata else "all"
    return pairs


def paired_difference(pairs: pd.DataFrame, samples: int = 2000) -> dict:
    """Mean paired difference of the score with a 95% interval and a verdict.

    With per-subject statistics for every run, the interval resamples test subjects within
    folds and adds the seed-to-seed spread beyond them
    (:func:`au.evaluation.paired_bootstrap.paired_bootstrap`); without them (older runs), a t
    interval over the pairs; with one pair and no statistics, no interval.
    """
    deltas = (pairs["f1_variant"] - pairs["f1_baseline"]).dropna()
    out = dict(delta_mean=deltas.mean(), delta_low=np.nan, delta_high=np.nan, pairs=len(deltas))
    out.update(delta_std=deltas.std(ddof=1), ci="none", per_au=None)
    have_counts = "counts_variant" in pairs and pairs[["counts_variant", "counts_baseline"]].map(
        lambda c: isinstance(c, SubjectCounts)
    ).all(axis=None)
    if len(pairs) and have_counts:
        result = paired_bootstrap(
            list(
                zip(
                    pairs["stratum"], pairs["counts_variant"], pairs["counts_baseline"], strict=True
                )
            ),
            samples=samples,
        )
        out.update(delta_mean=result.mean, delta_low=result.low, delta_high=result.high)
        method = (
            f"t (df {result.df:.0f}): test subjects resampled in folds + seed spread"
            if result.seeds_measured
            else "t: test subjects resampled only (one seed per fold: training noise unmeasured)"
        )
        out.update(ci=method, per_au=result.per_au)
    elif len(deltas) >= 2:
        _, low, high = t_interval(deltas)
        out.update(delta_low=low, delta_high=high, ci="t over pairs (no per-subject predictions)")
    out["verdict"] = verdict(out["delta_low"], out["delta_high"])
    return out


def _baseline_columns(runs, table: pd.DataFrame, spec: dict, group_by) -> pd.DataFrame:
    check_replicates(runs, [k for k in PAIR_KEYS if k not in group_by])
    rows = []
    for group, values in table[list(group_by)].iterrows():
        reference = " / ".join(str(spec.get(key, values[key])) for key in group_by)
        row = dict(baseline=reference, delta_mean=np.nan, delta_std=np.nan, pairs=0)
        row.update(delta_low=np.nan, delta_high=np.nan, verdict="", ci="", per_au=None)
        if reference in table.index and reference != group:
            row.update(paired_difference(replicate_pairs(runs, group, reference, group_by)))
            if row["pairs"] == 0:  # no shared replicate: the difference of the means
                row["delta_mean"] = table.at[group, "f1_mean"] - table.at[reference, "f1_mean"]
                row["verdict"] = "unpaired: no interval"
        rows.append(row)
    return pd.DataFrame(rows, index=table.index)


def compare_runs(
    runs: pd.DataFrame, group_by: Sequence[str] = ("loss", "backbone"), baseline: str | None = None
) -> pd.DataFrame:
    """One row per experiment (index ``group``): F1 over seeds, deltas, per-AU F1, costs.

    Args:
        runs: One row per run with the ``group_by`` keys, :data:`PAIR_KEYS`, ``f1``,
            ``f1/<AU>``, ``params`` and ``train_seconds`` (as :func:`collect_local_runs`).
        group_by: Keys that define an experiment; its runs differ only in seed (or fold).
        baseline: The reference experiment (see :func:`parse_baseline`). Adds ``baseline``,
            ``delta_mean`` (mean paired difference of average F1; without a shared replicate,
            the difference of means), ``delta_std`` (its std over pairs, ddof=1),
            ``delta_low`` / ``delta_high`` (95% interval, see :func:`paired_difference`),
            ``verdict``, ``ci`` (how the interval was made), ``pairs`` and ``per_au`` (a
            DataFrame of per-AU differences with intervals, or None).

    Returns:
        Columns: the ``group_by`` keys, ``runs``, ``seeds``, ``f1_mean``, ``f1_std`` (ddof=1),
        ``f1@0.5_mean/_std`` and ``roc_auc_mean/_std`` where the runs report them, ``params``,
        ``train_seconds`` (mean), [baseline columns], ``f1/<AU>`` means.
    """
    group_by = list(group_by)
    runs = with_group_labels(runs, group_by)
    check_groups(runs)
    grouped = runs.groupby("group")
    table = grouped[group_by].first()
    table["runs"] = grouped.size()
    if "score" in runs:
        table["score"] = grouped["score"].first()
    table["seeds"] = grouped["seed"].agg(lambda s: ",".join(map(str, sorted(s.unique()))))
    for score in (s for s in ("f1", *SCORES) if s in runs.columns):
        values = pd.to_numeric(runs[score], errors="coerce").groupby(runs["group"])
        table[f"{score}_mean"], table[f"{score}_std"] = values.mean(), values.std(ddof=1)
    table["params"] = grouped["params"].median()
    table["train_seconds"] = grouped["train_seconds"].mean()
    if baseline:
        spec = parse_baseline(baseline, group_by)
        check_baseline_exists(table, spec, baseline)
        table = table.join(_baseline_columns(runs, table, spec, group_by))
    au_columns = sorted(
        (c for c in runs.columns if c.startswith("f1/")), key=lambda c: au_number(c[3:])
    )
    return table.join(grouped[au_columns].mean()).sort_values(group_by)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m au.compare [RUN_DIR ...] [--wandb PROJECT] [--baseline ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m au.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("roots", nargs="*", help="folders holding finished runs (searched deeply)")
    parser.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read the runs from W&B")
    parser.add_argument("--baseline", help="e.g. bce, bce/mobilenetv2_100, backbone=densenet201")
    parser.add_argument("--group-by", nargs="+", default=["loss", "backbone"], choices=GROUP_KEYS)
    parser.add_argument("--out", type=Path, help="output folder (default: ROOT/comparison)")
    parser.add_argument(
        "--frames",
        metavar="QUERY",
        help="score AU runs on the test frames matching a filter on the index columns, e.g. "
        '"low_light == 1 and abs(roll) >= 5" (local runs only)',
    )
    args = parser.parse_args(argv)
    if bool(args.roots) == bool(args.wandb):
        parser.error("give run folders or --wandb PROJECT (one of the two)")
    if args.frames and args.wandb:
        parser.error("--frames needs local runs (their test_predictions.csv and index)")
    try:
        if args.frames:
            parse_frame_filter(args.frames)  # refused before any run is read
        runs = (
            collect_wandb_runs(args.wandb)
            if args.wandb
            else collect_local_runs(args.roots, args.frames)
        )
        if runs.empty:
            raise ComparisonError(f"no finished run with a test score in {args.wandb}")
        table = compare_runs(runs, args.group_by, args.baseline)
    except (ComparisonError, FrameQueryError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    default_out = Path(args.roots[0]) / "comparison" if args.roots else Path("comparison")
    out_dir = args.out or default_out
    text = write_comparison(runs, table, args.group_by, out_dir, args.baseline, args.frames)
    print(text + f"\ncompared {len(runs)} runs; results: {out_dir}")


if __name__ == "__main__":
    main()
