"""Collect experiment 003's runs into results.csv and paired differences with t intervals.

Run from the folder that holds ``logs/`` (the runs of the README's commands):

    python experiments/003-emotions/summarise.py logs/fit/ablations/003-emotions

The per-condition tables (``test_emotion_by_condition.csv`` of the ``au.evaluate`` records under
``<root>/<modality>-eval/`` and ``<root>/au_readout/``) are averaged over seeds into
``by_condition.csv``.

Every model is scored on the same test faces (fold 1) for each seed; a difference to the
baseline is paired by seed (within a modality) and its 95% interval is a t interval over the
pairs (:func:`au.evaluation.paired_bootstrap.t_interval`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from au.evaluation.paired_bootstrap import t_interval, verdict

HERE = Path(__file__).parent
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
#: model -> (record folders under the modality's folder, summary key prefix of its scores).
MODELS = {
    "AU model, read-out (prototype_v1)": ("au_readout/*", "readout_prototype_v1_"),
    "AU model, read-out (calibrated)": ("au_readout/*", "readout_calibrated_"),
    "emotion head": ("*-emotion-*/results", ""),
    "joint: emotion head": ("*-joint-*/results", ""),
    "joint: read-out (calibrated)": ("*-joint-*/results", "readout_calibrated_"),
    "majority class": ("*-emotion-*/results", "majority_"),
}
#: References each model is compared with, where present: the old rule, the new rule, the
#: majority class (thermal has no AU-only model) and the emotion head (for the joint model).
REFERENCES = (
    "AU model, read-out (prototype_v1)",
    "AU model, read-out (calibrated)",
    "majority class",
    "emotion head",
)


def collect(root: Path) -> pd.DataFrame:
    """One row per (modality, model, seed): the test emotion scores and the record's folder."""
    rows = []
    for modality in ("rgb", "thermal"):
        for model, (pattern, prefix) in MODELS.items():
            if pattern.startswith("au_readout"):  # RGB AU models, evaluated by au.evaluate
                folders = sorted(root.glob(pattern)) if modality == "rgb" else []
            else:
                folders = sorted((root / modality).glob(pattern))
            for folder in folders:
                summary = json.loads((folder / "summary.json").read_text())
                row = {"modality": modality, "model": model, "seed": summary["seed"]}
                row |= {score: summary.get(prefix + score) for score in SCORES}
                row["frames"] = summary.get("emotion_frames")
                row["record"] = str(folder)
                rows.append(row)
    return pd.DataFrame(rows)


def paired(results: pd.DataFrame, score: str = "macro_f1") -> pd.DataFrame:
    """Each model's mean paired difference of ``score`` to each reference present."""
    rows = []
    for modality, table in results.groupby("modality"):
        wide = table.pivot_table(index="seed", columns="model", values=score)
        for reference in (r for r in REFERENCES if r in wide):
            for model in wide.columns.drop(reference):
                if model in REFERENCES[: REFERENCES.index(reference)]:
                    continue  # each pair of references once
                deltas = wide[model] - wide[reference]
                mean, low, high = t_interval(deltas)
                rows.append(
                    dict(modality=modality, model=model, baseline=reference, score=score,
                         pairs=int(deltas.notna().sum()), delta=mean, low=low, high=high,
                         verdict=verdict(low, high))
                )  # fmt: skip
    return pd.DataFrame(rows)


def by_condition(root: Path) -> pd.DataFrame:
    """Accuracy and macro-F1 per test condition, mean over seeds, per modality and run kind."""
    tables = []
    paths = sorted(root.glob("*-eval/*/test_emotion_by_condition.csv"))
    paths += sorted(root.glob("au_readout/*/test_emotion_by_condition.csv"))
    for path in paths:
        folder = path.parent.parent.name
        kind = "emotion" if "-emotion-" in path.parent.name else "joint"
        modality = folder.removesuffix("-eval")
        if folder == "au_readout":
            kind, modality = "au", "rgb"
        tables.append(pd.read_csv(path).assign(modality=modality, run_kind=kind))
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables)
    return table.groupby(["modality", "run_kind", "condition"], sort=False).mean().reset_index()


def main(root: str) -> None:
    """Write results.csv, paired_differences.csv and by_condition.csv; print them in %."""
    conditions = by_condition(Path(root))
    conditions.to_csv(HERE / "by_condition.csv", index=False)
    results = collect(Path(root))
    results.to_csv(HERE / "results.csv", index=False)
    deltas = paired(results)
    deltas.to_csv(HERE / "paired_differences.csv", index=False)
    means = results.groupby(["modality", "model"])[list(SCORES)].agg(["mean", "std"])
    print((100 * means).round(1).to_string())
    shown = deltas.assign(**{c: 100 * deltas[c] for c in ("delta", "low", "high")})
    print(shown.round(1).to_string(index=False))


if __name__ == "__main__":
    main(sys.argv[1])
