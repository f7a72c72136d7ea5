"""Paired differences of a score with a 95% interval over test subjects and seeds.

Two runs that share a data set, a test fold and a seed form a *pair*: they saw the same test
subjects and started from the same random state, so their difference isolates the variable
being compared. The uncertainty of the mean paired difference has three parts:

* training noise shared by all subjects of a run (a run that is better or worse overall);
* run x subject noise (which frames of which subject a run gets right), which also makes the
  pair-to-pair spread within a fold;
* which subjects were drawn for the test fold, shared by every pair of that fold.

The interval is a variance-components t interval, made per test fold (stratum): subjects are
resampled within the fold (bootstrap, both runs of a pair on the same draw, every seed pair
kept) to give the variance ``B`` of the fold's seed-averaged difference; the pairs' bootstrap
variance ``A`` (one pair at a time) and ``B`` give the run x subject part, and what the
within-fold spread ``W`` of the pairs holds beyond it is the seed part (pooled over folds,
never below zero). The variance of the mean is ``sum_f w_f^2 (B_f + seed / S_f)`` (``w_f``:
the fold's share of the pairs, ``S_f`` its pairs) and its degrees of freedom come from
Satterthwaite's rule (subjects for ``B``, pairs minus folds for the seed part).

Why not the bootstrap of subjects *and* of seed pairs (this module's earlier interval): in a
fold x seed design the pair-to-pair spread already holds the run x subject noise, so that
counted it twice: on simulated studies shaped like experiment 002 it called a true null in
about 1 % of studies and found a true +1.6-point difference less often than a plain t interval
over the pairs. Why not the plain t interval over the pairs: it cannot see which subjects were
drawn (one fold: not at all) and needs two pairs. This interval holds 3-7 % false positives and
at least the t interval's power on those simulations
(:mod:`au.evaluation.interval_calibration`, ``tests/test_interval_calibration.py``). With one
pair per fold the seed part cannot be measured and the interval is over test subjects only.

Scores are recomputed for every draw from per-subject sufficient statistics
(:class:`SubjectCounts`): TP, FP, FN per AU (average F1, exactly what
:func:`au.evaluation.occurrence_metrics.per_au_metrics` gives: the mean over AUs with a
positive), TP, FP, FN per emotion class (macro-F1) or the six moments of estimate and coded
intensity per AU (ICC(3,1)).
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
        aus: AU keys (A,) (emotion: class names).
        counts: (S, A, K) sufficient statistics per subject and target: TP, FP, FN for
            ``score`` ``f1`` and ``macro_f1``; the six moments of :data:`ICC_MOMENTS` for
            ``icc``.
        score: What is computed from them (a key of :data:`SCORERS`).
    """

    subjects: tuple[str, ...]
    aus: tuple[str, ...]
    counts: np.ndarray
    score: str = "f1"

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
        return cls(
            subjects, tuple(data["aus"]), counts.reshape(len(subjects), len(data["aus"]), -1)
        )


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


def class_f1(counts: np.ndarray) -> np.ndarray:
    """Emotion F1 per class from (..., C, 3) counts; NaN for a class never true nor predicted.

    Their mean is :func:`au.evaluation.emotion_metrics.emotion_metrics`' macro-F1.
    """
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


#: The per-subject moments behind ICC(3,1) of an estimate x against a coded intensity y.
ICC_MOMENTS = ("n", "x", "y", "xx", "yy", "xy")


def icc_from_moments(moments: np.ndarray) -> np.ndarray:
    """ICC(3,1) of two raters per AU from (..., A, 6) summed :data:`ICC_MOMENTS`.

    With two raters ICC(3,1) = (BMS − EMS) / (BMS + EMS) = 2·Sxy / (Sxx + Syy) (centred sums),
    as :func:`au.evaluation.intensity_metrics.icc_3_1`; NaN below 2 frames or with no spread.
    """
    n, x, y, xx, yy, xy = np.moveaxis(moments.astype(float), -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sxx, syy, sxy = xx - x * x / n, yy - y * y / n, xy - x * y / n
        icc = 2 * sxy / (sxx + syy)
    return np.where((n >= 2) & (sxx + syy > 1e-12), icc, np.nan)


#: Per-target score from summed sufficient statistics, by :attr:`SubjectCounts.score`.
SCORERS = {"f1": f1_per_au, "macro_f1": class_f1, "icc": icc_from_moments}


@contextmanager
def _quiet_nanmean():
    """Silence NumPy's "mean of empty slice" (an all-NaN row stays NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass
class PairedDifference:
    """The mean paired difference (variant − baseline) and its interval.

    Attributes:
        mean: Observed mean over pairs of the difference in the averaged score.
        low: Lower bound of the interval.
        high: Upper bound.
        pairs: Number of pairs (seed × fold) behind the estimate.
        subjects: Test subjects resampled (over all folds).
        per_au: Per-target rows (mean, low, high) of the score difference, indexed by target.
        df: Satterthwaite degrees of freedom of the interval.
        seeds_measured: Whether a fold held two or more pairs (the seed part was measured).
    """

    mean: float
    low: float
    high: float
    pairs: int
    subjects: int
    per_au: pd.DataFrame
    df: float = float("nan")
    seeds_measured: bool = True

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
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """The mean paired difference of the averaged score (variant − baseline) and its interval.

    Args:
        pairs: ``(stratum, variant counts, baseline counts)`` per pair; the stratum is the test
            set (data set and fold): subjects are resampled within it.
        samples: Bootstrap draws of the subjects per stratum.
        seed: Seed of the draws (the interval is repeatable).
        level: Coverage of the interval.

    Raises:
        ValueError: If a pair's two runs were not scored on the same subjects and targets.
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
    score = pairs[0][1].score
    parts = [_stratum_parts(members, score, samples, rng) for members in strata.values()]
    average = _combine([p[0] for p in parts], len(pairs), level)
    per_target = _combine([p[1] for p in parts], len(pairs), level)
    per_au = pd.DataFrame(
        {"mean": per_target["mean"], "low": per_target["low"], "high": per_target["high"]},
        index=pd.Index(pairs[0][1].aus, name="au"),
    )
    return PairedDifference(
        mean=float(average["mean"]),
        low=float(average["low"]),
        high=float(average["high"]),
        pairs=len(pairs),
        subjects=sum(m[0][0].counts.shape[0] for m in strata.values()),
        per_au=per_au,
        df=float(average["df"]),
        seeds_measured=any(len(m) > 1 for m in strata.values()),
    )


def _stratum_parts(members, score: str, samples: int, rng) -> tuple[dict, dict]:
    """Observed pair differences and bootstrap variances of one fold, averaged and per target."""
    variant = np.stack([v.counts for v, _ in members])  # (P, S, T, K)
    baseline = np.stack([b.counts for _, b in members])
    num_subjects = variant.shape[1]
    weights = rng.multinomial(num_subjects, np.full(num_subjects, 1 / num_subjects), samples)
    summed_v = np.einsum("bs,pstk->bptk", weights, variant)  # (B, P, T, K)
    summed_b = np.einsum("bs,pstk->bptk", weights, baseline)
    scorer = SCORERS[score]
    drawn_v, drawn_b = scorer(summed_v), scorer(summed_b)  # (B, P, T)
    seen_v, seen_b = scorer(variant.sum(1)), scorer(baseline.sum(1))  # (P, T)
    with _quiet_nanmean():
        averaged = _variances(
            np.nanmean(seen_v, -1) - np.nanmean(seen_b, -1),  # (P,)
            np.nanmean(drawn_v, -1) - np.nanmean(drawn_b, -1),  # (B, P)
            num_subjects,
        )
    return averaged, _variances(seen_v - seen_b, drawn_v - drawn_b, num_subjects)


def _variances(observed: np.ndarray, draws: np.ndarray, subjects: int) -> dict:
    """One fold's mean difference, subject variance B, seed excess and their weights.

    ``observed``: (P, ...) pair differences; ``draws``: (B, P, ...) on resampled subjects.
    """
    pairs = observed.shape[0]
    with _quiet_nanmean():
        fold_mean = np.nanmean(observed, 0)
        subject_var = np.nanvar(np.nanmean(draws, 1), 0, ddof=1)  # B: seed-averaged
        if pairs > 1:
            pair_var = np.nanmean(np.nanvar(draws, 0, ddof=1), 0)  # A: one pair at a time
            run_subject = (pair_var - subject_var) * pairs / (pairs - 1)
            excess = np.nanvar(observed, 0, ddof=1) - run_subject  # W minus run x subject
        else:
            excess = np.full_like(fold_mean, np.nan)
    return {"mean": fold_mean, "B": subject_var, "excess": excess, "pairs": pairs,
            "subjects": subjects}  # fmt: skip


def _combine(folds: list[dict], total_pairs: int, level: float) -> dict:
    """Pooled mean, variance, Satterthwaite df and interval over the folds."""
    means, subject_var, excess = (np.array([f[k] for f in folds]) for k in ("mean", "B", "excess"))
    per_fold = (-1,) + (1,) * (means.ndim - 1)  # fold scalars broadcast over targets
    pairs = np.array([f["pairs"] for f in folds], dtype=float).reshape(per_fold)
    weights = pairs / total_pairs
    with _quiet_nanmean():
        mean = np.nansum(weights * means, 0) / np.nansum(weights * ~np.isnan(means), 0)
        seed_df = np.where(np.isnan(excess), 0.0, pairs - 1)
        pooled = np.nansum(seed_df * excess, 0) / np.maximum(seed_df.sum(0), 1)
        v_subjects = np.nansum(weights**2 * subject_var, 0)
        v_seeds = np.maximum(pooled, 0.0) * np.sum(weights**2 / pairs, 0)
        variance = v_subjects + v_seeds
        spread = v_subjects**2 / sum(f["subjects"] - 1 for f in folds)
        spread = spread + v_seeds**2 / np.maximum(seed_df.sum(0), 1)
        df = np.where(spread > 0, variance**2 / np.where(spread > 0, spread, 1.0), np.inf)
        half = stats.t.ppf(0.5 + level / 2, df) * np.sqrt(variance)
    return {"mean": mean, "low": mean - half, "high": mean + half, "df": df}
