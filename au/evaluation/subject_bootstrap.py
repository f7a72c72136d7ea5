"""Subject-level bootstrap intervals of a score computed from per-subject counts.

Frames of one subject are correlated, so an interval for a score on a set of test frames draws
the subjects (not the frames) with replacement. A score that is a function of summed counts
(confusion counts of AUs or classes) is recomputed for every draw from the counts of the drawn
subjects, each counted as often as it was drawn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Bootstrap draws of an interval, and the seed that makes them repeatable.
DRAWS = 1000
SEED = 0


def counts_by_subject(subjects: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-frame counts (N, ...) summed per subject: (S, ...) in sorted subject order."""
    _, position = np.unique(np.asarray(subjects).astype(str), return_inverse=True)
    summed = np.zeros((int(position.max()) + 1 if len(position) else 0, *counts.shape[1:]))
    np.add.at(summed, position, counts)
    return summed


def subject_weights(subjects: int, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """How often each of ``subjects`` is drawn in each of ``draws`` resamples: (draws, S)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, subjects, size=(draws, subjects))  # (D, S) subject indices
    offsets = picks + subjects * np.arange(draws)[:, None]
    return np.bincount(offsets.ravel(), minlength=draws * subjects).reshape(draws, subjects)


def subject_interval(
    counts: np.ndarray,
    score: Callable[[np.ndarray], np.ndarray],
    draws: int = DRAWS,
    seed: int = SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``score`` over subject resamples.

    Args:
        counts: Per-subject counts (S, ...).
        score: Maps summed counts (D, ...) to one score per draw (D,); NaN draws (e.g. no
            positive left) are ignored.
        draws: Number of resamples.
        seed: Seed of the resamples.
        level: Coverage of the interval.

    Returns:
        ``(low, high)``; NaN for fewer than two subjects (one subject has no spread to draw).
    """
    if len(counts) < 2:
        return float("nan"), float("nan")
    weights = subject_weights(len(counts), draws, seed).astype(float)
    resampled = np.tensordot(weights, counts, axes=1)  # (D, ...)
    values = np.asarray(score(resampled), dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
