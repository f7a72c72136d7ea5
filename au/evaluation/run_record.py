"""The run record: the files a finished fit or evaluation leaves, written and read in one place.

``au.fit`` writes it to ``<run>/results/``, ``au.evaluate`` to ``<run>/evaluation/<split>/``;
``au.compare`` and ``au.crossval`` read it. Every record folder holds:

- ``summary.json``: the run facts (:data:`FACT_KEYS`, ``params``, ``train_seconds``, what
  data was read; ``au.evaluate`` adds ``checkpoint``, ``split``, ``threshold_source``,
  ``runtime``) and the task's scores (for AU occurrence: ``f1``, ``f1@0.5``, ``roc_auc``,
  ``pr_auc``, the baselines' averages, ``aus_averaged``, ``untuned_aus``, ``decision``,
  ``thresholds``, ``frames``, ``subjects``).
- ``<split>_<table>.csv``: the task's tables, e.g. ``test_metrics.csv``,
  ``test_metrics_at_0.5.csv``, ``test_baselines.csv``, ``test_predictions.csv``.
- ``report.md``: a line naming the run, then the task's sections.

The run facts are built from a fit config by :func:`run_facts` only (fit, W&B tags, compare).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf

from au.evaluation.evaluator import EvaluationResult
from au.losses.registry import loss_label

#: What identifies a run (its comparison keys).
FACT_KEYS = (
    "task", "experiment", "loss", "decision", "backbone", "data", "fold", "seed", "ablation",
)  # fmt: skip
#: The loss of a task that does not train with ``model.loss``, when ``task.loss`` is not set.
TASK_OWN_LOSSES = {"intensity": "mse", "emotion": "cross_entropy"}

#: The record folder of a fit, inside its run folder.
RESULTS_DIR = "results"
SUMMARY = "summary.json"
REPORT = "report.md"


def run_facts(config: DictConfig | Mapping) -> dict[str, Any]:
    """The :data:`FACT_KEYS` of a fit config (composed, ``.hydra/config.yaml`` or W&B's).

    A module's saved hyperparameters work too (as ``{"model": hparams}``: its ``task``).
    """
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    model, data = config.get("model") or {}, config.get("data") or {}
    task = config.get("task") or model.get("task") or {}
    return dict(
        task=task.get("name", "au"),
        experiment=config.get("experiment_name"),
        **task_loss_and_decision(task, model),
        backbone=(model.get("backbone") or {}).get("name"),
        data=data.get("name"),
        fold=data.get("fold"),
        seed=config.get("seed"),
        ablation=config.get("ablation_name"),
    )


def task_loss_and_decision(task: Mapping, model: Mapping) -> dict[str, Any]:
    """What a run's task trains with and decides by.

    ``task=au``: ``model.loss`` (its :func:`~au.losses.registry.loss_label`: ``pr(average=macro)``
    for the per-AU P·R) and ``model.decision``. ``task=joint``: the AU loss plus the
    emotion head's cross-entropy (``bce+cross_entropy``) and the AU decision step. Any other
    task: its own loss (``task.loss``, else :data:`TASK_OWN_LOSSES`) and no decision step.
    """
    name = task.get("name", "au")
    model_loss = loss_label(model.get("loss") or {}) if model.get("loss") else None
    decision = (model.get("decision") or {}).get("name")
    if name == "au":
        return {"loss": model_loss, "decision": decision}
    if name == "joint":
        return {"loss": f"{model_loss}+{TASK_OWN_LOSSES['emotion']}", "decision": decision}
    return {"loss": task.get("loss", TASK_OWN_LOSSES.get(name)), "decision": None}


def write_run_record(
    out_dir: str | Path, result: EvaluationResult, facts: Mapping[str, Any], split: str = "test"
) -> str:
    """Write ``result`` with the run ``facts`` into ``out_dir``; return ``report.md``'s text.

    The task's scores win over a fact of the same name (e.g. the resolved ``decision``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in result.tables.items():
        table.to_csv(out_dir / f"{split}_{name}.csv", index=False)
    summary = {**facts, "split": split, **result.summary}
    (out_dir / SUMMARY).write_text(json.dumps(json_ready(summary), indent=2) + "\n")
    text = record_header(facts, split) + "\n\n" + "\n\n".join(result.sections) + "\n"
    (out_dir / REPORT).write_text(text)
    return text


def record_header(facts: Mapping[str, Any], split: str) -> str:
    """One line naming what was evaluated: the run's keys, the checkpoint, the thresholds."""
    keys = ", ".join(f"{k}={facts[k]}" for k in FACT_KEYS if facts.get(k) is not None)
    text = f"Results on the {split} subjects of {keys or 'a run'}"
    if facts.get("checkpoint"):
        text += f"; checkpoint {facts['checkpoint']}"
    if facts.get("threshold_source"):
        text += f"; thresholds: {facts['threshold_source']}"
    text += "."
    if facts.get("checkpoint_stage") == 1:
        text += (
            f"\n\nNote: the tested checkpoint (epoch {facts.get('checkpoint_epoch')}) lies in"
            " stage 1: its backbone was never fine-tuned (no stage-2 epoch validated better)."
        )
    return text


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN as ``None`` (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class RunRecord:
    """A record folder as read back: its summary, facts and tables."""

    folder: Path
    summary: dict[str, Any]
    facts: dict[str, Any]
    split: str = "test"

    def table(self, name: str) -> pd.DataFrame:
        """``<split>_<name>.csv`` (e.g. ``metrics``, ``predictions``)."""
        return pd.read_csv(self.folder / f"{self.split}_{name}.csv")

    def has_table(self, name: str) -> bool:
        """Whether the record holds ``<split>_<name>.csv``."""
        return (self.folder / f"{self.split}_{name}.csv").is_file()

    @property
    def metrics(self) -> pd.DataFrame:
        """The per-target metrics table (one row per AU and an ``average`` row)."""
        return self.table("metrics")


def read_run_record(folder: str | Path) -> RunRecord:
    """Read a record folder (``<run>/results`` or ``<run>/evaluation/<split>``).

    Facts missing from ``summary.json`` (runs older than the record) are taken from the run's
    ``.hydra/config.yaml``, else from ``csv/hparams.yaml`` (then there is no seed).

    Raises:
        FileNotFoundError: If ``summary.json`` is missing.
        ValueError: If it is not valid JSON.
    """
    folder = Path(folder)
    summary = json.loads((folder / SUMMARY).read_text())
    facts = {key: summary.get(key) for key in FACT_KEYS}
    if any(value is None for value in facts.values()):
        saved = facts_of_run(folder.parent)
        facts = {key: facts[key] if facts[key] is not None else saved.get(key) for key in facts}
    for key in ("params", "train_seconds"):
        facts[key] = summary.get(key)
    return RunRecord(folder, summary, facts, summary.get("split") or "test")


def facts_of_run(run_dir: Path) -> dict[str, Any]:
    """The facts in a run folder's ``.hydra/config.yaml``, else ``csv/hparams.yaml``, else {}."""
    hydra_config, hparams = run_dir / ".hydra" / "config.yaml", run_dir / "csv" / "hparams.yaml"
    if hydra_config.is_file():
        return run_facts(yaml.safe_load(hydra_config.read_text()) or {})
    if hparams.is_file():
        logged = yaml.safe_load(hparams.read_text()) or {}  # the module's and data module's
        return run_facts({"model": logged, "data": logged.get("data")})
    return {}


def find_run_records(root: str | Path) -> list[Path]:
    """Every fit record folder (``*/results`` holding ``summary.json``) under ``root``."""
    return [path.parent for path in sorted(Path(root).rglob(f"{RESULTS_DIR}/{SUMMARY}"))]
