"""Emotion evaluator: a learned emotion head beside the majority class and the AU read-out.

:class:`EmotionEvaluator` implements :class:`au.evaluation.evaluator.Evaluator` for
``task=emotion`` and the emotion half of ``task=joint``. It scores the frames that carry an
emotion label (class index >= 0) with :func:`au.evaluation.emotion_metrics.emotion_metrics`
and, on the same frames, the majority class of the training labels and, for a model with an
AU head, the AU→emotion read-out under every rule of :data:`au.emotions.readout.RULES`
(the calibrated rule with the model's tuned thresholds). Tables: ``emotion_summary`` (one row
per model), ``emotion_metrics`` (per class), ``emotion_confusion`` (row-normalised),
``emotion_predictions`` (per frame) and, on the synthetic set, ``emotion_by_condition``
(accuracy and macro-F1 over one fixed class set per nuisance condition: low light, rotation,
glasses, occlusion, with subject-level intervals and the majority class; see
:mod:`au.evaluation.emotion_conditions`);
headline ``macro_f1``. With a ``figure_dir`` it also writes the confusion matrix and ROC
curves as PNG.

An AU model without an emotion head (``task=au``) is scored by its read-out alone
(``has_head=False``): the per-class table, confusion matrix and figures are then the calibrated
read-out's, and the summary holds only ``readout_*`` and ``majority_*`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from au.emotions.readout import RULES, emotion_scores, predict_emotion
from au.evaluation.emotion_conditions import condition_scores, condition_sections
from au.evaluation.emotion_metrics import (
    EmotionMetrics,
    emotion_metrics,
    majority_baseline,
    majority_class,
    summary_table,
)
from au.evaluation.evaluator import EvaluationResult

#: What :meth:`EmotionEvaluator.process` reads; ``logits`` (AU) too when it scores a read-out.
OUTPUT_KEYS = ("emotion_logits", "emotion", "ids")
#: Summary columns reported per model (flattened as ``<prefix>_<column>``).
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
#: The emotion head's name in the tables; the read-out's is ``AU read-out (<rule>)``.
HEAD = "emotion head"
#: What a model without an emotion head is scored by first (per class, confusion, figures).
PRIMARY_READOUT = "AU read-out (calibrated)"


class EmotionEvaluator:
    """Scores emotion predictions beside the majority class and the AU read-out.

    Args:
        classes: Class names in the order of the emotion head's outputs.
        train_labels: Class index (N,) of every training frame (-1: unlabelled), for the
            majority baseline.
        frames: The split's index rows, one per sample id, with a ``row`` column.
        readout: ``(aus, thresholds)`` of the model's AU head to score the AU read-out on the
            same frames; ``None``: no AU head.
        note: A line added to the report (e.g. that the split is not subject-independent).
        figure_dir: Where to write the confusion-matrix and ROC PNGs; ``None``: none.
        has_head: Whether the model has an emotion head (``emotion_logits``); without one,
            ``readout`` is required and scored alone.
    """

    def __init__(
        self,
        classes: Sequence[str],
        train_labels: torch.Tensor,
        frames: pd.DataFrame | None = None,
        readout: tuple[Sequence[str], torch.Tensor] | None = None,
        note: str = "",
        figure_dir: str | Path | None = None,
        has_head: bool = True,
    ):
        if not has_head and readout is None:
            raise ValueError("EmotionEvaluator without an emotion head needs the AU read-out")
        self.classes = list(classes)
        self.has_head = has_head
        train = torch.as_tensor(train_labels).long()
        self.train_names = [self.classes[i] for i in train[train >= 0].tolist()]
        self.frames, self.readout, self.note = frames, readout, note
        self.figure_dir = Path(figure_dir) if figure_dir is not None else None
        keys = OUTPUT_KEYS if has_head else tuple(k for k in OUTPUT_KEYS if k != "emotion_logits")
        self.keys = keys + (("logits",) if readout is not None else ())
        self._parts: dict[str, list[torch.Tensor]] = {}
        self.reset()

    @property
    def primary_name(self) -> str:
        """The model scored first (per class, confusion, figures): the head, else the read-out."""
        return HEAD if self.has_head else PRIMARY_READOUT

    def reset(self) -> None:
        """Forget every prediction processed so far."""
        self._parts = {key: [] for key in self.keys}

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Add ``emotion_logits`` (B, C), ``emotion`` (B,), ``ids`` (B,) (and AU ``logits``)."""
        for key in self.keys:
            self._parts[key].append(torch.as_tensor(outputs[key]).detach().cpu())

    def labelled(self) -> dict[str, torch.Tensor]:
        """The processed frames that carry a label, in sample-id order."""
        if not self._parts["ids"]:
            raise ValueError("EmotionEvaluator.evaluate: no predictions were processed")
        values = {key: torch.cat(parts) for key, parts in self._parts.items()}
        values["emotion"] = values["emotion"].reshape(-1).long()
        order = torch.argsort(values["ids"].long(), stable=True)
        keep = order[values["emotion"][order] >= 0]
        if len(keep) == 0:
            raise ValueError("EmotionEvaluator.evaluate: no processed frame has an emotion label")
        return {key: value[keep] for key, value in values.items()}

    def evaluate(self) -> EvaluationResult:
        """Model, majority and read-out metrics on the labelled frames; tables and sections."""
        values = self.labelled()
        truth = [self.classes[i] for i in values["emotion"].tolist()]
        answers: dict[str, list[str]] = {}  # each scored model's answer per frame
        results: dict[str, EmotionMetrics] = {}
        if self.has_head:
            probs = torch.softmax(values["emotion_logits"].double(), -1)  # (N, C)
            answers[HEAD] = [self.classes[i] for i in probs.argmax(-1).tolist()]
            results[HEAD] = emotion_metrics(truth, answers[HEAD], probs.numpy(), self.classes)
        results["majority class"] = self._majority(truth)
        readouts = self._readouts(values["logits"]) if self.readout is not None else {}
        for rule, (names, scores) in readouts.items():
            answers[f"AU read-out ({rule})"] = list(names)
            results[f"AU read-out ({rule})"] = emotion_metrics(truth, names, scores, self.classes)
        primary = results[self.primary_name]
        tables = self._tables(primary, results, values, truth, answers)
        summary = self._summary(results, truth)
        if self.frames is not None:
            frames = self.frames.iloc[values["ids"].long().numpy()]
            # the subjects of the labelled frames (an AU record's ``subjects`` may hold more)
            summary["emotion_subjects"] = sorted(map(str, frames["subject"].unique()))
            majority, name = summary["majority_class"], self.primary_name
            conditions = condition_scores(frames, truth, answers, self.classes, majority, name)
            if conditions is not None:
                tables["emotion_by_condition"] = conditions
        if self.figure_dir is not None:
            summary["figures"] = self._figures(primary)
        return EvaluationResult("macro_f1", summary, tables, self._sections(tables, len(truth)))

    def _majority(self, truth: list[str]) -> EmotionMetrics:
        return majority_baseline(truth, self.train_names or None, self.classes)

    def _readouts(self, logits: torch.Tensor) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Predicted names and scores (N, C) of the AU read-out under every rule."""
        aus, thresholds = self.readout
        probs = torch.sigmoid(logits.double())  # (N, A)
        thresholds = torch.as_tensor(thresholds).double().cpu()
        out = {}
        for rule in RULES:
            options = {"rule": rule, "thresholds": thresholds if rule == "calibrated" else None}
            names = predict_emotion(probs, aus, self.classes, **options)
            scores = torch.as_tensor(emotion_scores(probs, aus, self.classes, **options))
            out[rule] = (names, scores.numpy())
        return out

    def _tables(self, model, results, values, truth, answers) -> dict[str, pd.DataFrame]:
        per_frame = pd.DataFrame({"label": truth})
        if self.has_head:
            per_frame["predicted"] = answers[HEAD]
        if self.frames is not None:
            frames = self.frames.iloc[values["ids"].long().numpy()]
            per_frame.insert(0, "subject", frames["subject"].astype(str).to_numpy())
            per_frame.insert(0, "row", frames["row"].to_numpy())
        for rule in RULES if self.readout is not None else ():
            per_frame[f"readout/{rule}"] = answers[f"AU read-out ({rule})"]
        return {
            "emotion_summary": summary_table(results).reset_index(),
            "emotion_metrics": model.per_class.reset_index(),
            "emotion_confusion": model.confusion.reset_index(),
            "emotion_predictions": per_frame,
        }

    def _summary(self, results: dict[str, EmotionMetrics], truth: list[str]) -> dict:
        summary = {}
        if self.has_head:
            model = results[HEAD].summary()
            keys = (*SCORES, "macro_precision", "macro_recall", "macro_auc")
            summary = {k: model[k] for k in keys}
        prefixes = {"majority class": "majority"}
        prefixes |= {f"AU read-out ({rule})": f"readout_{rule}" for rule in RULES}
        for name, metrics in results.items():
            if name in prefixes:
                row = metrics.summary()
                summary |= {f"{prefixes[name]}_{k}": row[k] for k in SCORES}
        summary["majority_class"] = majority_class(self.train_names or truth, self.classes)
        summary |= {"emotion_classes": self.classes, "emotion_frames": len(truth)}
        return summary

    def _sections(self, tables: dict[str, pd.DataFrame], frames: int) -> list[str]:
        shown = tables["emotion_summary"][["model", *SCORES, "macro_auc"]].copy()
        percent = [*SCORES, "macro_auc"]
        shown[percent] = (100 * shown[percent].astype(float)).round(1)
        if self.has_head:
            scored = "of the emotion head beside the majority class of the training labels" + (
                " and the AU read-out of the model's AU head (both rules)" if self.readout else ""
            )
        else:
            scored = (
                "of the AU read-out (both rules; the model has no emotion head) beside the "
                "majority class of the training labels; per class and confusion: the calibrated "
                "read-out"
            )
        intro = (
            f"Emotion on the {frames} labelled test frames: accuracy, balanced accuracy, "
            f"macro-F1 and macro ROC-AUC (%) {scored}" + (f". {self.note}" if self.note else "")
        )
        per_class = tables["emotion_metrics"].copy()
        columns = ["precision", "recall", "f1", "auc"]
        per_class[columns] = (100 * per_class[columns]).round(1)
        confusion = tables["emotion_confusion"].round(2)
        sections = [
            intro + ":\n\n" + shown.to_markdown(index=False),
            "Per class (%):\n\n" + per_class.to_markdown(index=False),
            "Confusion matrix (rows: true class, row-normalised):\n\n"
            + confusion.to_markdown(index=False),
        ]
        if "emotion_by_condition" in tables:
            sections += condition_sections(tables["emotion_by_condition"], self.primary_name)
        return sections

    def _figures(self, model: EmotionMetrics) -> list[str]:
        from au.evaluation.emotion_plots import save_confusion_matrix, save_roc_curves

        paths = [save_confusion_matrix(model, self.figure_dir / "emotion_confusion.png")]
        paths.append(save_roc_curves(model, self.figure_dir / "emotion_roc.png"))
        return [path.name for path in paths if path is not None]
