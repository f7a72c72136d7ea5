"""End-of-run reports: the per-AU F1 table beside the trivial baselines, written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from au.data.datamodule import AUDataModule
from au.metrics import baseline_f1, f1_table, per_au_metrics
from au.models.module import AULitModule

#: Test-frame conditions of the synthetic set, as (name, pandas query on its index columns).
SYNTHETIC_CONDITIONS = (
    (
        "clean",
        "low_light == 0 and abs(roll) < 5 and abs(yaw) < 10 and occlusion == 'none' "
        "and glasses == 'none'",
    ),
    ("low light", "low_light == 1"),
    ("rotated (|roll| >= 5 or |yaw| >= 10)", "abs(roll) >= 5 or abs(yaw) >= 10"),
    ("glasses", "glasses != 'none'"),
    ("occluded", "occlusion != 'none'"),
)


def test_report(module: AULitModule, datamodule: AUDataModule) -> dict[str, pd.DataFrame]:
    """Test metrics at tuned thresholds and at 0.5, with baselines, from ``module.test_results``."""
    results = module.test_results
    baselines = baseline_f1(results["labels"], results["mask"], datamodule.train_prevalence())
    return {
        "tuned": results["tuned"],
        "fixed": results["fixed"],
        "baselines": baselines,
        "decision": module.decision["name"],
        "untuned_aus": module.untuned_aus() if module.decision["name"] == "per_au" else [],
        "predictions": test_predictions(module, datamodule),
    }


def test_predictions(module: AULitModule, datamodule: AUDataModule) -> pd.DataFrame:
    """One row per test frame: subject, index row, and per AU probability, decision, label.

    Labels are empty where not coded. ``au.compare`` resamples these rows by subject for its
    confidence intervals.
    """
    results = module.test_results
    rows = datamodule.rows["test"][results["ids"].cpu().numpy()]
    subjects = datamodule.index.table["subject"].astype(str).to_numpy()[rows]
    table = pd.DataFrame({"row": rows, "subject": subjects})
    coded = results["mask"].cpu().numpy() > 0
    for j, au in enumerate(module.aus):
        table[f"prob/{au}"] = results["probs"][:, j].cpu().numpy().round(5)
        table[f"decision/{au}"] = results["decisions"][:, j].cpu().numpy().astype(int)
        label = pd.Series(results["labels"][:, j].cpu().numpy().astype(int), dtype="Int64")
        table[f"label/{au}"] = label.where(coded[:, j])
    return table


def condition_report(module: AULitModule, datamodule: AUDataModule) -> pd.DataFrame | None:
    """Average test F1 (at the tuned thresholds) per nuisance condition of the synthetic set."""
    results = module.test_results
    table = datamodule.index.table.iloc[datamodule.rows["test"][results["ids"].cpu()]]
    rows = []
    for name, query in SYNTHETIC_CONDITIONS:
        try:
            selected = torch.as_tensor(table.eval(query).to_numpy(dtype=bool))
        except (pd.errors.UndefinedVariableError, KeyError, TypeError, ValueError):
            continue
        if int(selected.sum()) < 20:
            continue
        metrics = per_au_metrics(
            results["probs"][selected],
            results["labels"][selected],
            results["mask"][selected],
            module.aus,
            decisions=results["decisions"][selected],
        )
        rows.append(dict(condition=name, frames=int(selected.sum()), f1=metrics.iloc[-1]["f1"]))
    return pd.DataFrame(rows) if rows else None


def write_report(
    reports: dict[str, pd.DataFrame],
    conditions: pd.DataFrame | None,
    out_dir: Path,
    extra: dict | None = None,
) -> str:
    """Write CSV/JSON/markdown results into ``out_dir`` and return the markdown table.

    ``extra`` (e.g. the run's loss, backbone, seed, parameter count and training time) is
    added to ``summary.json``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    reports["tuned"].to_csv(out_dir / "test_metrics.csv", index=False)
    reports["fixed"].to_csv(out_dir / "test_metrics_at_0.5.csv", index=False)
    table = f1_table(reports["tuned"], reports["baselines"], **{"F1@0.5": reports["fixed"]})
    average = reports["tuned"].iloc[-1]
    total = len(reports["tuned"]) - 1
    aus_averaged = int(average.get("aus_averaged", total))
    untuned = reports.get("untuned_aus", [])
    text = (
        f"Test subjects, F1 (%) at the validation-fitted decisions "
        f"({reports.get('decision', 'per_au')}); the average covers {aus_averaged} of {total} "
        "AUs (an AU with no test positive has no F1)"
        + (
            f"; untuned (too few validation positives, threshold 0.5): {', '.join(untuned)}"
            if untuned
            else ""
        )
        + ":\n\n"
        + table
        + "\n"
    )
    summary = {
        "aus_averaged": aus_averaged,
        "decision": reports.get("decision", "per_au"),
        "untuned_aus": list(untuned),
        "f1": float(reports["tuned"].iloc[-1]["f1"]),
        "f1@0.5": float(reports["fixed"].iloc[-1]["f1"]),
        "roc_auc": float(reports["tuned"].iloc[-1]["roc_auc"]),
        "all_positive_f1": float(reports["baselines"].iloc[-1]["all_positive"]),
        "majority_f1": float(reports["baselines"].iloc[-1]["majority"]),
        **(extra or {}),
    }
    if conditions is not None:
        conditions.to_csv(out_dir / "test_f1_by_condition.csv", index=False)
        text += (
            "\nAverage F1 (%) by condition:\n\n"
            + conditions.assign(f1=lambda d: (100 * d["f1"]).round(1)).to_markdown(index=False)
            + "\n"
        )
        summary["f1_by_condition"] = dict(
            zip(conditions["condition"], conditions["f1"], strict=True)
        )
    if reports.get("predictions") is not None:
        reports["predictions"].to_csv(out_dir / "test_predictions.csv", index=False)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "report.md").write_text(text)
    return text
