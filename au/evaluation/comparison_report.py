"""The comparison's outputs: markdown table, CSVs and figures of :mod:`au.compare`.

:func:`write_comparison` writes ``runs.csv``, ``comparison.csv``/``.md``, ``per_au_deltas.csv``,
``comparison_f1.png`` and ``comparison_deltas.png`` from the table
:func:`au.compare.compare_runs` makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from au.evaluation.paired_bootstrap import verdict
from au.evaluation.plots import plot_grouped_f1, plot_paired_deltas

#: Scores reported beside average F1 at tuned thresholds: F1 at 0.5 and the threshold-free
#: ROC-AUC, which separate a better ranking from a better operating point.
SCORES = {"f1@0.5": "F1@0.5", "roc_auc": "ROC-AUC"}


def with_group_labels(runs: pd.DataFrame, group_by: Sequence[str]) -> pd.DataFrame:
    """``runs`` with a ``group`` column: its ``group_by`` values joined by `` / ``."""
    return runs.assign(group=runs[list(group_by)].astype(str).agg(" / ".join, axis=1))


def _percent(mean: float, std: float = float("nan"), signed: bool = False) -> str:
    if pd.isna(mean):
        return "–"
    text = f"{100 * mean:+.1f}" if signed else f"{100 * mean:.1f}"
    return text if pd.isna(std) else f"{text} ± {100 * std:.1f}"


def _interval(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "–"
    if pd.isna(low):
        return f"{100 * mean:+.1f}"
    return f"{100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def per_au_deltas(table: pd.DataFrame) -> pd.DataFrame:
    """Per-AU paired differences with their intervals, one row per (group, AU)."""
    frames = [
        per_au.assign(group=group, baseline=table.at[group, "baseline"]).reset_index()
        for group, per_au in table.get("per_au", pd.Series(dtype=object)).items()
        if isinstance(per_au, pd.DataFrame)
    ]
    if not frames:
        return pd.DataFrame(columns=["group", "baseline", "au", "mean", "low", "high", "verdict"])
    deltas = pd.concat(frames, ignore_index=True)
    deltas["verdict"] = [
        verdict(lo, hi) for lo, hi in zip(deltas["low"], deltas["high"], strict=True)
    ]
    return deltas[["group", "baseline", "au", "mean", "low", "high", "verdict"]]


def only_f1(table: pd.DataFrame) -> bool:
    """Whether every group is compared on AU F1 (no intensity or emotion headline)."""
    return "score" not in table or table["score"].eq("f1").all()


def comparison_caption(
    runs: int,
    baseline: str | None,
    f1: bool,
    frames: str | None = None,
    intervals: Sequence[str] = (),
) -> str:
    """What the comparison table shows; ``f1``: every group is compared on AU F1.

    ``frames``: the filter that chose the test frames (``--frames``); ``intervals``: how the
    intervals were made (the table's ``ci`` values; default: test subjects and seeds).
    """
    if f1 and frames:
        text = (
            f"Test F1 (%) of {runs} runs on the test frames where `{frames}` (the index's "
            "columns): mean ± std (ddof=1) over seeds and folds; Avg.F1 at the decisions "
            "fitted on validation subjects."
        )
        interval = "test subjects with such frames resampled within folds, plus seed spread"
    elif f1:
        text = (
            f"Test F1 (%) of {runs} runs: mean ± std (ddof=1) over seeds and folds; Avg.F1 at "
            "the decisions fitted on validation subjects, F1@0.5 at 0.5, ROC-AUC threshold-free."
        )
        interval = "test subjects resampled within folds, plus seed spread"
    else:
        text = (
            f"Test headline score (x100) of {runs} runs, named in the score column (f1: AU "
            "Avg.F1, icc: intensity ICC(3,1), macro_f1: emotion macro-F1): mean ± std (ddof=1) "
            "over seeds and folds."
        )
        interval = "test subjects resampled within folds, plus seed spread"
    methods = sorted({i for i in intervals if isinstance(i, str) and i and i != "none"})
    if methods:
        interval = "; ".join(methods)
    if baseline:
        text += (
            " Δ: mean difference of the score to the baseline, paired by seed and fold, with its "
            f"95% confidence interval ({interval}); the verdict is 'better' or 'worse' only "
            "when the interval excludes zero."
        )
    return text


def comparison_markdown(table: pd.DataFrame, group_by: Sequence[str], baseline: str | None) -> str:
    """The comparison as a markdown table, F1 and deltas in %."""
    shown = table[list(group_by)].copy()
    shown["runs"], shown["seeds"] = table["runs"].astype(str), table["seeds"]
    if "score" in table and table["score"].ne("f1").any():
        shown["score"] = table["score"]
    title = "Avg.F1" if only_f1(table) else "headline"
    shown[title] = [_percent(m, s) for m, s in zip(table["f1_mean"], table["f1_std"], strict=True)]
    if baseline:
        deltas = zip(table["delta_mean"], table["delta_low"], table["delta_high"], strict=True)
        shown[f"Δ vs {baseline} [95% CI]"] = [_interval(*d) for d in deltas]
        shown["verdict"] = table["verdict"].fillna("")
    for score, title in SCORES.items():
        if f"{score}_mean" in table and table[f"{score}_mean"].notna().any():
            pairs = zip(table[f"{score}_mean"], table[f"{score}_std"], strict=True)
            shown[title] = [_percent(m, s) for m, s in pairs]
    for column in (c for c in table.columns if c.startswith("f1/")):
        shown[column[3:]] = [_percent(v) for v in table[column]]
    shown["params (M)"] = [f"{p / 1e6:.2f}" if pd.notna(p) else "–" for p in table["params"]]
    shown["train (s)"] = [f"{t:.0f}" if pd.notna(t) else "–" for t in table["train_seconds"]]
    return shown.to_markdown(index=False, disable_numparse=True)


def write_comparison(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    group_by,
    out_dir: Path,
    baseline: str | None = None,
    frames: str | None = None,
) -> str:
    """Write runs.csv, comparison.csv/.md, per_au_deltas.csv and the figures; return markdown.

    ``frames``: the ``--frames`` query the runs were scored on (named in the caption).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.drop(columns=["counts"], errors="ignore").to_csv(out_dir / "runs.csv", index=False)
    table.drop(columns=["per_au"], errors="ignore").to_csv(out_dir / "comparison.csv")
    text = (
        comparison_caption(len(runs), baseline, only_f1(table), frames, table.get("ci", ()))
        + "\n\n"
        + comparison_markdown(table, group_by, baseline)
        + "\n"
    )
    (out_dir / "comparison.md").write_text(text)
    if baseline:
        per_au_deltas(table).to_csv(out_dir / "per_au_deltas.csv", index=False)
        shown = table[table["pairs"] > 0]
        if len(shown):
            plot_paired_deltas(shown, out_dir / "comparison_deltas.png")
    columns = [c for c in table.columns if c.startswith("f1/")] + ["f1"]
    grouped = with_group_labels(runs, group_by).groupby("group")[columns]
    names = {c: "Avg." if c == "f1" else c[3:] for c in columns}
    means = grouped.mean().loc[table.index].rename(columns=names).T
    plot_grouped_f1(means, grouped.std(ddof=1).loc[table.index].rename(columns=names).T,
                    out_dir / "comparison_f1.png")  # fmt: skip
    return text
