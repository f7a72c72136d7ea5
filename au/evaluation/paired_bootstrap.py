"""Paired differences of average F1 with bootstrap confidence intervals over test subjects.

Two runs that share a data set, a test fold and a seed form a *pair*: they saw the same test
subjects and started from the same random state, so their difference isolates the variable
being compared. The uncertainty of the mean paired difference has two sources, and the
bootstrap resamples both, separately within each test fold (stratum):

* the test subjects: frames of one subject are correlated, so subjects (not frames) are drawn
  with replacement, and both runs of a pair are scored on the same draw;
* the pairs (seeds): training randomness, drawn with replacement among the fold's pairs.

F1 is recomputed from per-subject counts (TP, FP, FN per AU) for every draw, so each draw's
average F1 is exactly what :func:`au.evaluation.occurrence_metrics.per_au_metrics` would give on
those frames (the mean over AUs with a positive).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Verdict when the 95% interval of the difference holds zero.
NO_DIFFERENCE = "no detectable difference at this sample size"


@dataclass(frozen=True)
class SubjectCounts:
    """TP, FP, FN of every AU on every test subject of one run.

    Attributes:
        subjects: Subject ids (S,).
        aus: AU keys (A,).
        counts: (S, A, 3) integer counts: TP, FP, FN.
    """

    subjects: tuple[str, ...]
    aus: tuple[str, ...]
    counts: np.ndarray

    @classmethod
    def from_predictions(cls, predictions: pd.DataFrame) -> SubjectCounts:
        """Counts from a run's ``test_predictions.csv``.

        Uses its ``subject``, ``decision/<AU>`` and ``label/<AU>`` columns; empty labels are
        uncoded and never count.
        """
        aus = tuple(c.removeprefix("label/") for c in predictions if c.startswith("label/"))
        subjects = tuple(sorted(predictions["subject"].astype(str).unique()))
        position = {s: i for i, s in enumerate(subjects)}
        where = predictions["subject"].astype(str).map(position).to_numpy()
        counts = np.zeros((len(subjects), len(aus), 3), dtype=np.int64)
        for j, au in enumerate(aus):
            label = pd.to_numeric(predictions[f"label/{au}"], errors="coerce").to_numpy()
            decision = predictions[f"decision/{au}"].to_numpy() > 0
            coded = ~np.isnan(label)
            positive = coded & (label > 0.5)
            for k, hit in enumerate(
                (positive & decision, coded & ~positive & decision, positive & ~decision)
            ):
                np.add.at(counts[:, j, k], where[hit], 1)
        return cls(subjects, aus, counts)

    def to_json(self) -> dict:
        """A plain ``{"aus": [...], "subjects": {id: [[tp, fp, fn], ...]}}`` (W&B summary)."""
        return {
            "aus": list(self.aus),
            "subjects": {s: self.counts[i].tolist() for i, s in enumerate(self.subjects)},
        }

    @classmethod
    def from_json(cls, data: dict) -> SubjectCounts:
        """Inverse of :meth:`to_json`."""
        subjects = tuple(sorted(data["subjects"]))
        counts = np.array([data["subjects"][s] for s in subjects], dtype=np.int64)
        return cls(subjects, tuple(data["aus"]), counts.reshape(len(subjects), -1, 3))


def f1_per_au(counts: np.ndarray) -> np.ndarray:
    """F1 per AU from (..., A, 3) counts; NaN where an AU has no positive."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (2 * tp + fp + fn)
    return np.where(tp + fn > 0, f1, np.nan)


def average_f1(counts: np.ndarray) -> np.ndarray:
    """Average F1 over the AUs with a positive, from (..., A, 3) counts."""
    with _quiet_nanmean():
        return np.nanmean(f1_per_au(counts), axis=-1)


@contextmanager
def _quiet_nanmean():
    """Silence NumPy's "mean of empty slice" (an all-NaN row stays NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass
class PairedDifference:
    """The mean paired difference (variant − baseline) and its bootstrap interval.

    Attributes:
        mean: Observed mean over pairs of the difference in average F1.
        low: 2.5th percentile of the bootstrap distribution.
        high: 97.5th percentile.
        pairs: Number of pairs (seed × fold) behind the estimate.
        subjects: Test subjects resampled (over all folds).
        per_au: Per-AU rows (mean, low, high) of the F1 difference, indexed by AU.
    """

    mean: float
    low: float
    high: float
    pairs: int
    subjects: int
    per_au: pd.DataFrame

    @property
    def verdict(self) -> str:
        """``better`` / ``worse`` when the interval excludes zero, else :data:`NO_DIFFERENCE`."""
        return verdict(self.low, self.high)


def t_interval(deltas: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its t interval ``(mean, low, high)``.

    For scores without per-subject counts (ICC, emotion macro-F1): the pairs (seeds, folds)
    are the only unit resampled. Fewer than two pairs: NaN bounds.
    """
    values = np.asarray(deltas, dtype=float)
    values = values[~np.isnan(values)]
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """``better`` if the whole interval is above zero, ``worse`` if below, else no difference."""
    if np.isnan(low) or np.isnan(high):
        return "no interval"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return NO_DIFFERENCE


def paired_bootstrap(
    pairs: Sequence[tuple[str, SubjectCounts, SubjectCounts]],
    samples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """Bootstrap the mean paired difference of average F1 (variant − baseline).

    Args:
        pairs: ``(stratum, variant counts, baseline counts)`` per pair; the stratum is the test
            set (data set and fold): subjects and pairs are resampled within it.
        samples: Bootstrap draws.
        seed: Seed of the draws (the interval is repeatable).
        level: Coverage of the percentile interval.

    Raises:
        ValueError: If a pair's two runs were not scored on the same subjects and AUs.
    """
    rng = np.random.default_rng(seed)
    strata: dict[str, list[tuple[SubjectCounts, SubjectCounts]]] = {}
    for stratum, variant, baseline in pairs:
        if variant.subjects != baseline.subjects or variant.aus != baseline.aus:
            raise ValueError(
                f"pair in {stratum!r} was scored on other subjects or AUs: "
                f"{variant.subjects} / {variant.aus} vs {baseline.subjects} / {baseline.aus}"
            )
        strata.setdefault(stratum, []).append((variant, baseline))
    observed, draws_avg, draws_au, observed_au = [], [], [], []
    for members in strata.values():
        variant = np.stack([v.counts for v, _ in members])  # (P, S, A, 3)
        baseline = np.stack([b.counts for _, b in members])
        observed.append(average_f1(variant.sum(1)) - average_f1(baseline.sum(1)))  # (P,)
        observed_au.append(f1_per_au(variant.sum(1)) - f1_per_au(baseline.sum(1)))  # (P, A)
        num_pairs, num_subjects = variant.shape[:2]
        weights = rng.multinomial(num_subjects, np.full(num_subjects, 1 / num_subjects), samples)
        chosen = rng.integers(0, num_pairs, size=(samples, num_pairs))  # (B, P)
        summed_v = np.einsum("bs,psak->bpak", weights, variant)  # (B, P, A, 3)
        summed_b = np.einsum("bs,psak->bpak", weights, baseline)
        per_au = f1_per_au(summed_v) - f1_per_au(summed_b)  # (B, P, A)
        average = average_f1(summed_v) - average_f1(summed_b)  # (B, P)
        rows = np.arange(samples)[:, None]
        draws_avg.append(average[rows, chosen])
        draws_au.append(per_au[rows, chosen])
    draws = np.concatenate(draws_avg, axis=1)  # (B, total pairs)
    tail = 100 * (1 - level) / 2
    with _quiet_nanmean():
        means = np.nanmean(draws, axis=1)
        au_means = np.nanmean(np.concatenate(draws_au, axis=1), axis=1)  # (B, A)
        au_observed = np.nanmean(np.concatenate(observed_au), axis=0)
    aus = pairs[0][1].aus
    per_au = pd.DataFrame(
        {
            "mean": au_observed,
            "low": np.nanpercentile(au_means, tail, axis=0),
            "high": np.nanpercentile(au_means, 100 - tail, axis=0),
        },
        index=pd.Index(aus, name="au"),
    )
    return PairedDifference(
        mean=float(np.nanmean(np.concatenate(observed))),
        low=float(np.nanpercentile(means, tail)),
        high=float(np.nanpercentile(means, 100 - tail)),
        pairs=len(pairs),
        subjects=sum(m[0][0].counts.shape[0] for m in strata.values()),
        per_au=per_au,
    )
