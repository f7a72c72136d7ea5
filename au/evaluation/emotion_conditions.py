"""Emotion scores per nuisance condition of the synthetic set, over one fixed set of classes.

A macro-F1 over the classes present in each condition would average different classes on
different conditions (an "always neutral" answer scores higher where fewer classes occur). Here
every condition is scored over the same classes, those with a true frame among all the scored
frames; a class of that set with no true frame in a condition has no F1 there (n/a) and
``classes_averaged`` says how many of the set the condition's macro-F1 covers. Each model's
macro-F1 has a 95% interval over the condition's subjects (bootstrap), and the majority class
is scored on the same frames as a baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from au.evaluation.emotion_metrics import encode_labels, f1_from_confusion
from au.evaluation.occurrence_report import condition_subsets, interval_cell, percent_cell
from au.evaluation.subject_bootstrap import DRAWS, counts_by_subject, subject_interval

#: The baseline's name in the table: always the majority class of the training labels.
MAJORITY = "majority class"
COUNT_COLUMNS = ("condition", "frames", "subjects")


def condition_scores(
    frames: pd.DataFrame,
    truth: Sequence[str],
    answers: Mapping[str, Sequence[str]],
    classes: Sequence[str],
    majority: str | None = None,
    per_class: str | None = None,
) -> pd.DataFrame | None:
    """Accuracy and fixed-set macro-F1 of each model per nuisance condition.

    Args:
        frames: The index rows of the scored frames, in the order of ``truth``.
        truth: True class per frame.
        answers: Each model's predicted class per frame (same order).
        classes: The class names.
        majority: The majority class (of the training labels) to score as a baseline.
        per_class: The model (a key of ``answers``) whose F1 per class is added.

    Returns:
        One row per condition of :func:`~au.evaluation.occurrence_report.condition_subsets`
        (``condition``, ``frames``, ``subjects``), then ``classes_averaged``; per model
        ``<model> accuracy``, ``<model> macro-F1`` and ``<model> macro-F1 low`` / ``high``
        (95% interval over the condition's subjects); ``majority class accuracy`` and
        ``macro-F1`` when ``majority`` is given; ``<per_class> F1 <class>`` per class of the
        fixed set (NaN where the condition has none). ``None`` when the index has no
        condition columns (a real data set).
    """
    classes = list(classes)
    target = encode_labels(truth, classes, "truth").numpy()
    fixed = np.bincount(target, minlength=len(classes)) > 0  # (C,) classes with a true frame
    models = {name: encode_labels(list(p), classes, name).numpy() for name, p in answers.items()}
    if majority is not None:
        models[MAJORITY] = np.full(len(target), classes.index(majority))
    subjects = frames["subject"].to_numpy() if "subject" in frames else None
    rows = []
    for row, selected in condition_subsets(frames):
        present = fixed & (np.bincount(target[selected], minlength=len(classes)) > 0)
        row["classes_averaged"] = int(present.sum())
        held = None if subjects is None else subjects[selected]
        for name, predicted in models.items():
            counts = one_hot_confusion(target[selected], predicted[selected], len(classes))
            row |= _model_scores(name, counts, present, None if name == MAJORITY else held)
            if name == per_class:
                f1 = np.where(present, f1_from_confusion(counts.sum(0)), np.nan)
                chosen = np.flatnonzero(fixed)
                row |= {f"{name} F1 {classes[i]}": float(f1[i]) for i in chosen}
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def one_hot_confusion(target: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Each frame's confusion counts (n, C, C): 1 at (true class, predicted class)."""
    counts = np.zeros((len(target), num_classes, num_classes))
    counts[np.arange(len(target)), target, predicted] = 1
    return counts


def macro_f1_over(counts: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean F1 (...) over the ``classes`` (C,) bool that have a true sample in ``counts``."""
    f1 = f1_from_confusion(counts)[..., classes]
    defined = ~np.isnan(f1)
    total = np.where(defined, f1, 0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / defined.sum(-1)


def _model_scores(
    name: str, counts: np.ndarray, present: np.ndarray, subjects: np.ndarray | None
) -> dict:
    """Accuracy, macro-F1 (and with ``subjects`` its interval) from frame counts (n, C, C)."""
    total = counts.sum(0)
    scores = {
        f"{name} accuracy": float(np.trace(total) / total.sum()),
        f"{name} macro-F1": float(macro_f1_over(total, present)),
    }
    if subjects is not None:
        low, high = np.nan, np.nan
        if present.any():
            by_subject = counts_by_subject(subjects, counts)
            low, high = subject_interval(by_subject, lambda c: macro_f1_over(c, present))
        scores |= {f"{name} macro-F1 low": low, f"{name} macro-F1 high": high}
    return scores


def condition_sections(conditions: pd.DataFrame, per_class: str | None = None) -> list[str]:
    """Markdown: accuracy, macro-F1 and interval per model and condition; F1 per class."""
    counts = [c for c in COUNT_COLUMNS if c in conditions]
    prefix = f"{per_class} F1 " if per_class else None
    fixed = [c for c in conditions if prefix and c.startswith(prefix)]
    shown = conditions[counts].copy()
    of_set = f" of {len(fixed)}" if fixed else ""
    shown["classes"] = [f"{n}{of_set}" for n in conditions["classes_averaged"]]
    for column in conditions:
        if column.endswith(" accuracy") or column.endswith(" macro-F1"):
            shown[column] = conditions[column].map(percent_cell)
        if column.endswith(" macro-F1 low"):
            model = column.removesuffix(" macro-F1 low")
            bounds = zip(conditions[column], conditions[f"{model} macro-F1 high"], strict=True)
            shown[f"{model} 95% CI"] = [interval_cell(low, high) for low, high in bounds]
    intro = (
        "Emotion by test condition (accuracy and macro-F1, %). Macro-F1 runs over the "
        "classes with a labelled test frame (`classes`: how many of them occur in "
        f"the condition; the others are n/a there), with a 95% interval over the condition's "
        f"subjects ({DRAWS} bootstrap draws; – for a condition of one subject); the {MAJORITY} "
        "(of the training labels) is "
        "scored on the same frames"
    )
    sections = [intro + ":\n\n" + shown.to_markdown(index=False, disable_numparse=True)]
    if fixed:
        by_class = conditions[["condition"]].copy()
        for column in fixed:
            by_class[column.removeprefix(prefix)] = conditions[column].map(percent_cell)
        sections.append(
            f"F1 (%) per class by condition, {per_class} (n/a: no frame of the class in the "
            "condition):\n\n" + by_class.to_markdown(index=False, disable_numparse=True)
        )
    return sections
