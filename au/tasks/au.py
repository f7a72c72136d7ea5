"""AU occurrence (``task=au``, the default): one sigmoid per AU.

The loss is ``model.loss`` (the ``loss`` group), decisions are fitted on validation
(``model.decision``), and :class:`~au.evaluation.occurrence.AUOccurrenceEvaluator` reports F1
and ROC-AUC.

The decision step and the metric tables stay methods of
:class:`~au.models.module.AULitModule` (``fit_decision``, ``decide``, ``score``), which
``au.evaluate``, ``au.predict`` and the export use on any checkpoint; this task calls them.
"""

from __future__ import annotations

import torch
from torch import nn

from au.evaluation.evaluator import CombinedEvaluator, Evaluator
from au.evaluation.occurrence import AUOccurrenceEvaluator
from au.tasks.base import Task
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
    has_decision_step = True

    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """The paper's head: one logit per AU (B, A)."""
        return AUHead(in_features, num_aus, **options)

    def loss(self, module, outputs: torch.Tensor, batch: dict) -> torch.Tensor:
        """``model.loss`` of AU logits (B, A) against the labels, masked where uncoded."""
        return module.loss_fn(outputs, batch["labels"], batch["mask"])

    def stored(self, module, outputs: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """AU logits, labels and masks (B, A)."""
        return {"logits": outputs, "labels": batch["labels"], "mask": batch["mask"]}

    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the decision step; log F1 at it and at 0.5, and ROC-AUC, per AU and averaged."""
        if not module.trainer.sanity_checking:
            module.fit_decision(out["logits"], out["labels"], out["mask"])
        scores = module.score(out)
        module._log_table("val", scores["tuned"], scores["fixed"])

    def fit_decision(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the module's thresholds (or frame-threshold estimator) on stored AU outputs."""
        device = module.thresholds.device
        module.fit_decision(*(out[key].to(device) for key in ("logits", "labels", "mask")))

    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log test metrics at the validation-fitted decisions and at 0.5."""
        results = {**module.score(out), **out}
        module._log_table("test", results["tuned"], results["fixed"])
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
