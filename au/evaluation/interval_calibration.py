"""Simulated paired studies: how often au.compare's interval claims a difference.

:func:`simulate_studies` draws fold x seed studies shaped like experiment 002 (3 test folds of
13 subjects, 8 AUs, 60 frames a subject): both arms share each subject's labels and
difficulty; every run draws its own seed effect (shared by all its subjects) and a run x
subject effect, and its TP / FP / FN per subject and AU are binomial draws. :func:`rejection_rates`
scores each study with :func:`au.evaluation.paired_bootstrap.paired_bootstrap` and with a plain
t interval over the pairs, and :func:`power_table` prints the detection rate per true
difference. ``tests/test_interval_calibration.py`` holds the interval to these numbers.

    python -m au.evaluation.interval_calibration        # the power table (about a minute)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from au.evaluation.paired_bootstrap import SubjectCounts, average_f1, paired_bootstrap, t_interval

#: Logit shift of the variant's detector that gives a true difference of about 1.6 F1 points.
SHIFT_PER_POINT = 0.06 / 1.6


def simulate_studies(
    rng: np.random.Generator,
    studies: int,
    shift: float = 0.0,
    folds: int = 3,
    seeds: int = 3,
    subjects: int = 13,
    aus: int = 8,
    frames: int = 60,
    seed_sd: float = 0.03,
    run_subject_sd: float = 0.15,
) -> np.ndarray:
    """Counts (studies, folds, seeds, 2 arms: variant, baseline, subjects, aus, 3: TP FP FN).

    ``shift``: the variant's advantage on the logit of its hit rate.
    """
    rate = np.linspace(0.08, 0.35, aus)  # positive rate per AU
    per_subject = (studies, folds, 1, 1, subjects, 1)
    positive_rate = np.clip(rate * rng.gamma(4.0, 0.25, size=per_subject), 0.01, 0.9)
    positives = rng.binomial(frames, positive_rate)  # labels shared by both arms
    difficulty = rng.normal(0.0, 0.6, size=per_subject)  # shared by both arms
    seed_effect = rng.normal(0.0, seed_sd, size=(studies, folds, seeds, 2, 1, 1))
    run_subject = rng.normal(0.0, run_subject_sd, size=(studies, folds, seeds, 2, subjects, 1))
    arm = np.array([shift, 0.0]).reshape(1, 1, 1, 2, 1, 1)
    logit = 0.3 + arm - difficulty + seed_effect + run_subject
    hit_rate, false_alarm_rate = 1 / (1 + np.exp(-logit)), 1 / (1 + np.exp(logit + 2.0))
    shape = (studies, folds, seeds, 2, subjects, aus)
    positives = np.broadcast_to(positives, shape)
    tp = rng.binomial(positives, np.broadcast_to(hit_rate, shape))
    fp = rng.binomial(frames - positives, np.broadcast_to(false_alarm_rate, shape))
    return np.stack([tp, fp, positives - tp], -1)


def study_pairs(counts: np.ndarray) -> list[tuple[str, SubjectCounts, SubjectCounts]]:
    """One study's (folds, seeds, 2, subjects, aus, 3) counts as au.compare's pairs."""
    folds, seeds, _, subjects, aus, _ = counts.shape
    names, keys = tuple(f"s{i}" for i in range(subjects)), tuple(f"AU{j}" for j in range(aus))
    return [
        (f"fold{f}", SubjectCounts(names, keys, counts[f, s, 0]),
         SubjectCounts(names, keys, counts[f, s, 1]))
        for f in range(folds) for s in range(seeds)
    ]  # fmt: skip


def rejection_rates(counts: np.ndarray, samples: int = 300) -> dict[str, float]:
    """Share of studies whose interval excludes zero: au.compare's and the t interval's.

    Also ``difference``: the mean observed difference (the true difference, in F1 points).
    """
    claims = {"au.compare": 0, "t over pairs": 0}
    observed = []
    for study, one in enumerate(counts):
        result = paired_bootstrap(study_pairs(one), samples=samples, seed=study)
        claims["au.compare"] += result.low > 0 or result.high < 0
        summed = one.sum(3)  # (folds, seeds, 2, aus, 3)
        deltas = (average_f1(summed[:, :, 0]) - average_f1(summed[:, :, 1])).ravel()
        _, low, high = t_interval(deltas)
        claims["t over pairs"] += low > 0 or high < 0
        observed.append(deltas.mean())
    rates = {name: count / len(counts) for name, count in claims.items()}
    return rates | {"difference": 100 * float(np.mean(observed))}


def power_table(studies: int = 300, seed: int = 0) -> pd.DataFrame:
    """Detection rate (%) per true difference (0, 0.8, 1.6, 3.2 F1 points).

    For a 3 folds x 3 seeds and a 1 fold x 5 seeds design, au.compare's interval beside the t
    interval over the pairs.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for folds, seeds in ((3, 3), (1, 5)):
        for points in (0.0, 0.8, 1.6, 3.2):
            counts = simulate_studies(rng, studies, points * SHIFT_PER_POINT, folds, seeds)
            rates = rejection_rates(counts)
            rows.append(
                {"design": f"{folds} folds x {seeds} seeds", "true Δ (points)": points,
                 "mean observed Δ": round(rates["difference"], 2),
                 "au.compare (%)": round(100 * rates["au.compare"], 1),
                 "t over pairs (%)": round(100 * rates["t over pairs"], 1)}
            )  # fmt: skip
    return pd.DataFrame(rows)


if __name__ == "__main__":
    print(power_table().to_markdown(index=False))
