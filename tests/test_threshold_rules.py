"""Choosing a threshold rule on validation subjects: split-half scores computed by hand."""

import numpy as np
import pandas as pd
import pytest

from au.evaluation.threshold_rules import predictions_arrays, scores_on_test, split_half_scores


def _table(probs, labels, subjects):
    return pd.DataFrame(
        {"subject": subjects, "prob/AU12": probs, "label/AU12": labels}, dtype=object
    ).astype({"prob/AU12": float, "label/AU12": float})


def test_uncoded_labels_are_masked():
    table = _table([0.2, 0.9], [np.nan, 1.0], ["S1", "S2"])
    probs, labels, mask = predictions_arrays(table)
    assert mask[:, 0].tolist() == [0.0, 1.0] and labels[:, 0].tolist() == [0.0, 1.0]


def test_a_model_whose_scores_sit_low_gains_from_tuning_on_held_out_subjects():
    """Every subject: positives score 0.3, negatives 0.1. At 0.5 nothing is detected (F1 0);
    a threshold tuned on the other half lies at 0.2 and separates them (F1 1). Shrinking with
    a prior of 100 positives against 8 per half leaves the threshold above 0.3 (F1 0)."""
    rows = []
    for s in range(4):
        rows += [(0.3, 1.0, f"S{s}")] * 4 + [(0.1, 0.0, f"S{s}")] * 4
    table = _table(*zip(*rows, strict=True))
    scores = split_half_scores(table, repeats=3).set_index("rule")["f1"]
    assert scores["0.5"] == 0.0
    assert scores["tuned"] == pytest.approx(1.0)
    assert scores["shrink100"] == 0.0
    test = scores_on_test(table, table, ["0.5", "tuned"]).set_index("rule")["f1"]
    assert test["tuned"] == pytest.approx(1.0) and test["0.5"] == 0.0


def test_one_validation_subject_is_refused():
    table = _table([0.2, 0.9], [0.0, 1.0], ["S1", "S1"])
    with pytest.raises(ValueError, match="at least 2 validation subjects"):
        split_half_scores(table)
