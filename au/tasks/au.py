"""AU occurrence (``task=au``, the default): one sigmoid per AU.

The loss is ``model.loss`` (the ``loss`` group: a registered occurrence loss), decisions are
fitted on validation by the task's state (``model.decision``:
:class:`~au.tasks.decision.AUDecision`, kept in the checkpoint as ``module.task_state``), and
:class:`~au.evaluation.occurrence.AUOccurrenceEvaluator` reports F1 and ROC-AUC.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch
from torch import nn

from au.evaluation.evaluator import CombinedEvaluator, Evaluator
from au.evaluation.occurrence import AUOccurrenceEvaluator
from au.evaluation.occurrence_metrics import per_au_metrics
from au.losses.registry import build_loss
from au.tasks.base import Task
from au.tasks.decision import AUDecision
from au.tasks.emotion import readout_evaluator
from au.tasks.head import AUHead
from au.tasks.registry import register_task


@register_task("au")
class AUTask(Task):
    """Multi-label AU occurrence detection (today's behaviour of ``au.fit``)."""

    name = "au"
    headline = "f1"
    stored_keys = ("logits", "labels", "mask")
    inference_names = ("au_probabilities",)
    output_meanings = {"au_probabilities": "float32: sigmoid of the AU logits"}
    has_decision_step = True
    model_sections = ("loss", "decision")

    def build_loss(self, config: Mapping | None) -> nn.Module:
        """``model.loss``: a registered occurrence loss (``bce`` when none is given)."""
        self.loss_fn = build_loss(config or {"name": "bce"}, "occurrence")
        return self.loss_fn

    def build_state(self, num_aus: int, loss: Mapping | None, decision: Mapping | None):
        """The decision step (:class:`AUDecision`), resolved for the loss."""
        loss_name = (loss or {}).get("name", "bce")
        return AUDecision(num_aus, loss=loss_name, **dict(decision or {}))

    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """The paper's head: one logit per AU (B, A)."""
        return AUHead(in_features, num_aus, **options)

    def loss(self, module, outputs: torch.Tensor, batch: dict) -> torch.Tensor:
        """``model.loss`` of AU logits (B, A) against the labels, masked where uncoded."""
        return self.loss_fn(outputs, batch["labels"], batch["mask"])

    def stored(self, module, outputs: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """AU logits, labels and masks (B, A)."""
        return {"logits": outputs, "labels": batch["labels"], "mask": batch["mask"]}

    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the decision step; log F1 at it and at 0.5, and ROC-AUC, per AU and averaged."""
        if not module.trainer.sanity_checking:
            self.fit_decision(module, out)
        scores = score(module, out)
        log_table(module, "val", scores["tuned"], scores["fixed"])

    def fit_decision(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the thresholds (or the frame-threshold function) on stored AU outputs."""
        device = module.task_state.thresholds.device
        module.task_state.fit(*(out[key].to(device) for key in ("logits", "labels", "mask")))

    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log test metrics at the validation-fitted decisions and at 0.5."""
        results = {**score(module, out), **out}
        log_table(module, "test", results["tuned"], results["fixed"])
        return results

    def evaluator(self, module, datamodule, split: str, figure_dir=None) -> Evaluator:
        """The AU occurrence evaluator of the module, and its emotion read-out where it can.

        On data whose index carries emotion labels (the synthetic set) the record also scores
        the AU→emotion read-out (:func:`au.tasks.emotion.readout_evaluator`; its figures go to
        ``figure_dir``); the headline stays ``f1``.
        """
        occurrence = AUOccurrenceEvaluator.for_model(module, datamodule, split)
        readout = readout_evaluator(module, datamodule, split, figure_dir)
        if readout is None:
            return occurrence
        return CombinedEvaluator((occurrence, readout), self.headline)

    def inference_outputs(self, module, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """``au_probabilities`` (B, A): the sigmoid of the AU logits."""
        return {"au_probabilities": torch.sigmoid(outputs)}


def score(module, out: dict[str, torch.Tensor]) -> dict:
    """Metrics of stored AU outputs at the module's decisions (``tuned``) and at 0.5."""
    state = module.task_state
    probs = torch.sigmoid(out["logits"].double())
    labels, mask = out["labels"], out["mask"]
    decisions = state.decide(out["logits"].to(state.thresholds.device)).cpu()
    thresholds = state.thresholds.cpu()
    tuned = per_au_metrics(probs, labels, mask, module.aus, thresholds, decisions=decisions)
    fixed = per_au_metrics(probs, labels, mask, module.aus, 0.5)
    return {"tuned": tuned, "fixed": fixed, "probs": probs, "decisions": decisions}


def log_table(module, split: str, tuned: pd.DataFrame, fixed: pd.DataFrame) -> None:
    """Log F1 at the decisions and at 0.5 and ROC-AUC, averaged (``<split>/f1``) and per AU."""
    average = tuned.iloc[-1]
    values = {
        f"{split}/f1": average["f1"],
        f"{split}/f1@0.5": fixed.iloc[-1]["f1"],
        f"{split}/auc": average["roc_auc"],
    }
    for row in tuned.iloc[:-1].itertuples():
        values[f"{split}/f1/{row.au}"] = row.f1
        values[f"{split}/auc/{row.au}"] = row.roc_auc
    values = {k: float(v) for k, v in values.items() if pd.notna(v)}
    headline = values.pop(f"{split}/f1", 0.0)
    module.log_dict(values)
    module.log(f"{split}/f1", headline, prog_bar=True)
