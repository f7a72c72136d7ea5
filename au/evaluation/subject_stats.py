"""Per-subject sufficient statistics of intensity and emotion runs, for au.compare's interval.

:class:`au.evaluation.paired_bootstrap.SubjectCounts` of an AU run holds TP / FP / FN per
subject and AU (from ``test_predictions.csv``). These build the same for the other tasks'
headlines from their per-frame tables, so their differences are resampled over test subjects
too: ICC(3,1) from the six moments of estimate and coded intensity per subject and AU
(``test_intensity_predictions.csv``), emotion macro-F1 from TP / FP / FN per subject and class
(``test_emotion_predictions.csv``, the emotion head's ``predicted`` column).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from au.evaluation.paired_bootstrap import SubjectCounts


def _subject_positions(table: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
    subjects = tuple(sorted(table["subject"].astype(str).unique()))
    position = {s: i for i, s in enumerate(subjects)}
    return subjects, table["subject"].astype(str).map(position).to_numpy()


def intensity_moments(predictions: pd.DataFrame) -> SubjectCounts:
    """ICC moments (n, Σx, Σy, Σx², Σy², Σxy) per subject and AU of the coded frames.

    ``predictions``: a run's intensity predictions (``subject``, ``estimate/<AU>``,
    ``label/<AU>``; an empty label is uncoded and left out).
    """
    aus = tuple(c.removeprefix("label/") for c in predictions if c.startswith("label/"))
    subjects, where = _subject_positions(predictions)
    moments = np.zeros((len(subjects), len(aus), 6))
    for j, au in enumerate(aus):
        y = pd.to_numeric(predictions[f"label/{au}"], errors="coerce").to_numpy(dtype=float)
        x = pd.to_numeric(predictions[f"estimate/{au}"], errors="coerce").to_numpy(dtype=float)
        coded = ~np.isnan(y) & ~np.isnan(x)
        for k, value in enumerate((np.ones_like(x), x, y, x * x, y * y, x * y)):
            np.add.at(moments[:, j, k], where[coded], value[coded])
    return SubjectCounts(subjects, aus, moments, score="icc")


def emotion_counts(predictions: pd.DataFrame, classes: Sequence[str]) -> SubjectCounts:
    """TP, FP, FN per subject and emotion class of the emotion head's answers.

    ``predictions``: a run's emotion predictions (``subject``, ``label``, ``predicted``).
    """
    subjects, where = _subject_positions(predictions)
    truth = predictions["label"].astype(str).to_numpy()
    answer = predictions["predicted"].astype(str).to_numpy()
    counts = np.zeros((len(subjects), len(classes), 3), dtype=np.int64)
    for j, name in enumerate(classes):
        hits = (truth == name, answer == name)
        for k, rows in enumerate((hits[0] & hits[1], ~hits[0] & hits[1], hits[0] & ~hits[1])):
            np.add.at(counts[:, j, k], where[rows], 1)
    return SubjectCounts(subjects, tuple(classes), counts, score="macro_f1")
