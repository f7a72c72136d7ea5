"""au.bench_align's scoring: F1 from per-subject counts and the paired interval between crops."""

import numpy as np
import pandas as pd
import pytest

from au.bench_align import scored_variants, subject_counts
from au.evaluation.paired_bootstrap import SubjectCounts


class _FixedDetector:
    """Stands in for AUDetector: returns the given probabilities for the given crops."""

    aus = ["AU1", "AU12"]
    thresholds = np.array([0.5, 0.5])

    def probabilities(self, crops):
        return np.asarray(crops, dtype=float)


def test_counts_and_f1_by_hand():
    rows = pd.DataFrame({"subject": ["a", "a", "b", "b"], "AU1": [2, 0, 3, 0],
                         "AU12": [0, 0, 4, 1]})  # fmt: skip
    probs = [[0.9, 0.1], [0.8, 0.2], [0.2, 0.9], [0.1, 0.1]]
    counts = subject_counts(_FixedDetector(), probs, rows, level=2)
    # AU1: a: TP 1, FP 1; b: FN 1. AU12: b: TP 1 (4 >= 2; 1 < 2 is absent)
    assert counts.subjects == ("a", "b")
    np.testing.assert_array_equal(counts.counts[:, 0], [[1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(counts.counts[:, 1], [[0, 0, 0], [1, 0, 0]])
    table = scored_variants({"plain": counts, "same": counts}, "crop")
    # AU1 F1 = 2*1 / (2*1 + 1 + 1) = 0.5, AU12 F1 = 1 -> average 75.0
    assert table[0]["F1"] == pytest.approx(75.0)
    assert table[1]["Δ [95% CI]"] == "+0.0 [+0.0, +0.0]"


def test_a_clearly_better_crop_is_called_better():
    rng = np.random.default_rng(0)
    subjects = tuple(f"s{i}" for i in range(12))
    good = np.zeros((12, 2, 3), dtype=np.int64)
    good[..., 0], good[..., 2] = 9, 1  # recall 0.9
    bad = good.copy()
    bad[..., 0], bad[..., 2] = 4 + rng.integers(0, 2, (12, 2)), 5  # recall about 0.5
    rows = scored_variants(
        {"not aligned": SubjectCounts(subjects, ("AU1", "AU2"), bad),
         "aligned": SubjectCounts(subjects, ("AU1", "AU2"), good)},
        "crop",
    )  # fmt: skip
    assert rows[1]["verdict"] == "better" and rows[1]["F1"] > rows[0]["F1"]
