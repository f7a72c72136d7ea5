"""AU occurrence evaluator: per-AU metrics at the model's decisions and at 0.5, baselines.

:class:`AUOccurrenceEvaluator` implements :class:`au.evaluation.evaluator.Evaluator` for the
multi-label AU task. Its result holds the tables ``metrics`` (precision, recall, F1, ROC-AUC,
PR-AUC, support per AU and their average, at the validation-fitted decisions), ``metrics_at_0.5``,
``baselines`` (all-positive and majority F1), ``predictions`` (one row per frame: subject, index
row, probability, decision and label per AU; ``au.compare`` resamples it by subject) and, on data
with nuisance columns (the synthetic set), ``f1_by_condition``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import torch

from au.data.datamodule import split_frames
from au.evaluation.evaluator import EvaluationResult
from au.evaluation.occurrence_metrics import baseline_f1, per_au_metrics
from au.evaluation.occurrence_report import (
    condition_table,
    metric_sections,
    predictions_table,
)

#: What :meth:`AUOccurrenceEvaluator.process` reads from each batch of outputs.
OUTPUT_KEYS = ("logits", "labels", "mask", "ids")


class AUOccurrenceEvaluator:
    """Scores multi-label AU predictions the way every command reports them.

    Args:
        aus: AU keys in output order.
        decide: Present/absent decisions (N, A) of logits (N, A) (the model's decision step).
        thresholds: Per-AU thresholds (A,) the model holds (reported beside the decisions).
        train_prevalence: Positive rate of each AU in the training labels (A,) (majority
            baseline).
        frames: The split's index rows, one per sample id, with a ``row`` column (index row)
            and the index columns (``subject``, nuisance conditions); ``None``: no per-frame
            table and no conditions.
        decision: Name of the decision step (``per_au`` or ``frame_threshold``).
        untuned_aus: AUs whose per-AU threshold kept 0.5 (too few validation positives).
    """

    def __init__(
        self,
        aus: Sequence[str],
        decide: Callable[[torch.Tensor], torch.Tensor],
        thresholds: torch.Tensor,
        train_prevalence: torch.Tensor,
        frames: pd.DataFrame | None = None,
        decision: str = "per_au",
        untuned_aus: Sequence[str] = (),
    ):
        self.aus = list(aus)
        self.decide = decide
        self.thresholds = torch.as_tensor(thresholds).double().cpu()
        self.train_prevalence = torch.as_tensor(train_prevalence).cpu()
        self.frames = frames
        self.decision = decision
        self.untuned_aus = list(untuned_aus)
        self._parts: dict[str, list[torch.Tensor]] = {}
        self.reset()

    @classmethod
    def for_model(cls, model, datamodule, split: str) -> AUOccurrenceEvaluator:
        """The evaluator of an :class:`~au.models.module.AULitModule` on a data module's split.

        Build it after the model's decision step is fitted (it reads the thresholds).
        """
        state = model.task_state  # the AU task's decision step (au.tasks.decision.AUDecision)
        device = state.thresholds.device
        return cls(
            model.aus,
            decide=lambda logits: state.decide(logits.to(device)).cpu(),
            thresholds=state.thresholds,
            train_prevalence=datamodule.train_prevalence(),
            frames=split_frames(datamodule, split),
            decision=state.name,
            untuned_aus=state.untuned(model.aus),
        )

    def reset(self) -> None:
        """Forget every prediction processed so far."""
        self._parts = {key: [] for key in OUTPUT_KEYS}

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Add ``logits`` (B, A), ``labels`` (B, A), ``mask`` (B, A) and sample ``ids`` (B,)."""
        for key in OUTPUT_KEYS:
            self._parts[key].append(torch.as_tensor(outputs[key]).detach().cpu())

    def predictions(self) -> dict[str, torch.Tensor]:
        """Everything processed, in sample-id order: logits, probs (double), labels, mask, ids."""
        if not self._parts["ids"]:
            raise ValueError("AUOccurrenceEvaluator.evaluate: no predictions were processed")
        values = {key: torch.cat(parts) for key, parts in self._parts.items()}
        order = torch.argsort(values["ids"].long(), stable=True)
        values = {key: value[order] for key, value in values.items()}
        values["ids"] = values["ids"].long()
        values["logits"] = values["logits"].float()
        values["probs"] = torch.sigmoid(values["logits"].double())  # (N, A)
        return values

    def evaluate(self) -> EvaluationResult:
        """Metrics at the decisions and at 0.5, baselines, per-frame and per-condition tables."""
        values = self.predictions()
        probs, labels, mask = values["probs"], values["labels"], values["mask"]
        decisions = self.decide(values["logits"])  # (N, A) bool
        tuned = per_au_metrics(probs, labels, mask, self.aus, self.thresholds, decisions=decisions)
        if self.decision != "frame_threshold":
            tuned["threshold"] = [*self.thresholds.tolist(), float("nan")]
        fixed = per_au_metrics(probs, labels, mask, self.aus, 0.5)
        tables = {
            "metrics": tuned,
            "metrics_at_0.5": fixed,
            "baselines": baseline_f1(labels, mask, self.train_prevalence).assign(
                au=tuned["au"].to_numpy()
            ),
        }
        if self.frames is not None:
            frames = self.frames.iloc[values["ids"].numpy()]
            tables["predictions"] = predictions_table(frames, self.aus, values, decisions)
            conditions = condition_table(frames, self.aus, values, decisions)
            if conditions is not None:
                tables["f1_by_condition"] = conditions
        summary = self._summary(tables, len(probs))
        sections = metric_sections(tables, self.decision, self.untuned_aus)
        return EvaluationResult("f1", summary, tables, sections)

    def _summary(self, tables: dict[str, pd.DataFrame], frames: int) -> dict:
        average, fixed = tables["metrics"].iloc[-1], tables["metrics_at_0.5"].iloc[-1]
        baselines = tables["baselines"].iloc[-1]
        summary = {
            "f1": average["f1"],
            "f1@0.5": fixed["f1"],
            "roc_auc": average["roc_auc"],
            "pr_auc": average["pr_auc"],
            "all_positive_f1": baselines["all_positive"],
            "majority_f1": baselines["majority"],
            "aus_averaged": int(average["aus_averaged"]),
            "decision": self.decision,
            "untuned_aus": self.untuned_aus,
            "thresholds": dict(zip(self.aus, self.thresholds.tolist(), strict=True)),
            "frames": frames,
        }
        if self.frames is not None and "subject" in self.frames:
            summary["subjects"] = sorted(map(str, self.frames["subject"].unique()))
        if "f1_by_condition" in tables:
            conditions = tables["f1_by_condition"]
            summary["f1_by_condition"] = dict(
                zip(conditions["condition"], conditions["f1"], strict=True)
            )
        return summary
