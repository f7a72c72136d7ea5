"""Per-condition tables: one fixed AU / class set, subject-level intervals, majority baselines."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from au.evaluation.emotion_conditions import condition_scores, condition_sections
from au.evaluation.emotion_metrics import emotion_metrics
from au.evaluation.occurrence_report import condition_sections as au_condition_sections
from au.evaluation.occurrence_report import condition_table
from au.evaluation.subject_bootstrap import subject_interval, subject_weights

CLEAN = dict(low_light=0, roll=0.0, yaw=0.0, occlusion="none", glasses="none")


def frames_of(condition: dict, subjects: list[str]) -> list[dict]:
    return [{**CLEAN, **condition, "subject": subject} for subject in subjects]


def au_case():
    """40 frames, AU1 and AU12: 20 clean (S1, S2) and 20 with glasses (S3, S4)."""
    frames = pd.DataFrame(
        frames_of({}, ["S1"] * 10 + ["S2"] * 10)
        + frames_of({"glasses": "round"}, ["S3"] * 10 + ["S4"] * 10)
    )
    labels, decisions = torch.zeros(40, 2), torch.zeros(40, 2, dtype=torch.bool)
    # AU1, clean: S1 positives 0-3, found 0-1, false positive 4 -> TP 2 FP 1 FN 2
    #             S2 positives 10-13, all found                -> TP 4
    labels[[0, 1, 2, 3, 10, 11, 12, 13], 0] = 1
    decisions[[0, 1, 4, 10, 11, 12, 13], 0] = True
    # AU1, glasses: no positive (a false positive on frame 20 does not matter: n/a)
    decisions[20, 0] = True
    # AU12, clean: S1 positives 0-4, none found -> TP 0 FN 5
    labels[0:5, 1] = 1
    # AU12, glasses: S3 all 10 positive and found; S4 none positive, 5 false positives
    labels[20:30, 1] = 1
    decisions[20:35, 1] = True
    values = {"probs": decisions.double(), "labels": labels, "mask": torch.ones_like(labels)}
    return frames, values, decisions


def test_au_conditions_average_over_the_fixed_set_by_hand():
    frames, values, decisions = au_case()
    table = condition_table(frames, ["AU1", "AU12"], values, decisions).set_index("condition")
    assert list(table.index) == ["clean", "glasses"]
    clean, glasses = table.loc["clean"], table.loc["glasses"]
    # clean: AU1 TP 6 FP 1 FN 2 -> 12/15 = .8; AU12 TP 0 FN 5 -> 0; average .4 over both AUs
    assert (clean["f1/AU1"], clean["f1/AU12"]) == pytest.approx((0.8, 0.0))
    assert (clean["f1"], clean["aus_averaged"]) == (pytest.approx(0.4), 2)
    # glasses: AU1 has no positive -> n/a; AU12 TP 10 FP 5 -> 20/25 = .8 is the average of 1
    assert math.isnan(glasses["f1/AU1"]) and glasses["f1/AU12"] == pytest.approx(0.8)
    assert (glasses["f1"], glasses["aus_averaged"]) == (pytest.approx(0.8), 1)
    # all-positive F1 = 2P / (2P + N): clean AU1 16/28, AU12 10/25; glasses AU12 20/30
    assert clean["all_positive_f1"] == pytest.approx((16 / 28 + 10 / 25) / 2)
    assert glasses["all_positive_f1"] == pytest.approx(20 / 30)


def test_au_condition_interval_is_over_the_condition_subjects_by_hand():
    frames, values, decisions = au_case()
    table = condition_table(frames, ["AU1", "AU12"], values, decisions).set_index("condition")
    # clean draws two of S1, S2: {S1, S1} -> AU1 8/14, AU12 0 -> .2857 (1 in 4 draws),
    # {S1, S2} -> .4 (1 in 2), {S2, S2} -> AU1 1, AU12 has no positive -> 1 (1 in 4)
    low, high = table.loc["clean", ["f1_low", "f1_high"]]
    assert (low, high) == pytest.approx((4 / 7 / 2, 1.0))
    # glasses: {S3, S3} -> 1, {S3, S4} -> .8, {S4, S4} has no positive and is not counted
    assert tuple(table.loc["glasses", ["f1_low", "f1_high"]]) == pytest.approx((0.8, 1.0))


def test_au_condition_report_shows_na_and_how_many_aus_are_averaged():
    frames, values, decisions = au_case()
    summary, per_au = au_condition_sections(
        condition_table(frames, ["AU1", "AU12"], values, decisions)
    )
    assert "over the 2 AUs with a positive among the test frames" in summary
    rows = [line.replace(" ", "") for line in summary.splitlines()]
    assert rows[2] == "|condition|frames|subjects|AUsaveraged|F1|95%CI(subjects)|all-positiveF1|"
    assert "|clean|20|2|2of2|40.0|[28.6,100.0]|48.6|" in rows
    assert "|glasses|20|2|1of2|80.0|[80.0,100.0]|66.7|" in rows
    lines = [line.replace(" ", "") for line in per_au.splitlines()]
    assert "|condition|AU1|AU12|" in lines and "|glasses|n/a|80.0|" in lines


CLASSES = ["neutral", "happiness", "sadness", "fear"]  # no fear in the test frames at all


def emotion_case():
    """20 clean frames (S1, S2) and 20 occluded ones (S3); the model's answers."""
    frames = pd.DataFrame(
        frames_of({}, ["S1"] * 10 + ["S2"] * 10) + frames_of({"occlusion": "hand"}, ["S3"] * 20)
    )
    truth = (
        ["neutral"] * 6 + ["happiness"] * 4  # S1
        + ["neutral"] * 6 + ["sadness"] * 4  # S2
        + ["neutral"] * 15 + ["happiness"] * 5  # S3, occluded: no sadness
    )  # fmt: skip
    model = (
        ["neutral"] * 6 + ["happiness"] * 2 + ["neutral"] * 2
        + ["neutral"] * 6 + ["happiness"] * 4
        + ["neutral"] * 15 + ["happiness"] * 3 + ["sadness"] * 2
    )  # fmt: skip
    return frames, truth, model


def emotion_table():
    frames, truth, model = emotion_case()
    scores = condition_scores(frames, truth, {"head": model}, CLASSES, "neutral", "head")
    return scores.set_index("condition")


def test_emotion_conditions_use_the_fixed_class_set_by_hand():
    table = emotion_table()
    assert list(table.index) == ["clean", "occluded"]
    clean, occluded = table.loc["clean"], table.loc["occluded"]
    # clean: neutral TP 12, FP 2 -> 24/26; happiness TP 2, FP 4, FN 2 -> 4/10; sadness 0
    assert clean["head accuracy"] == pytest.approx(14 / 20)
    assert clean["head macro-F1"] == pytest.approx((24 / 26 + 0.4 + 0) / 3)
    assert clean["classes_averaged"] == 3
    # occluded: neutral 1, happiness TP 3 FN 2 -> 6/8, sadness has no frame -> n/a
    assert occluded["head macro-F1"] == pytest.approx((1 + 0.75) / 2)
    assert occluded["classes_averaged"] == 2
    assert math.isnan(occluded["head F1 sadness"]) and "head F1 fear" not in table
    # the present-classes macro-F1 counts the predicted-only sadness as 0 there
    frames, truth, model = emotion_case()
    old = emotion_metrics(truth[20:], model[20:], classes=CLASSES).macro["f1"]
    assert old == pytest.approx((1 + 0.75 + 0) / 3)


def test_emotion_majority_baseline_within_each_condition_by_hand():
    table = emotion_table()
    # always neutral: clean neutral 2*12/(12+20) = .75, happiness 0, sadness 0 -> .25
    assert table.loc["clean", "majority class macro-F1"] == pytest.approx(0.25)
    assert table.loc["clean", "majority class accuracy"] == pytest.approx(12 / 20)
    # occluded: neutral 30/35, happiness 0 -> averaged over its 2 classes
    assert table.loc["occluded", "majority class macro-F1"] == pytest.approx(30 / 35 / 2)
    assert "majority class macro-F1 low" not in table


def test_emotion_interval_over_subjects_by_hand():
    table = emotion_table()
    # clean: {S1, S1} -> neutral 24/28, happiness 8/12, sadness n/a -> .7619 (1 in 4 draws);
    # {S1, S2} -> .4410 (1 in 2); {S2, S2} -> neutral 1, sadness 0, happiness n/a -> .5
    low, high = table.loc["clean", ["head macro-F1 low", "head macro-F1 high"]]
    assert (low, high) == pytest.approx(((24 / 26 + 0.4) / 3, (24 / 28 + 8 / 12) / 2))
    # one subject: no interval
    assert np.isnan(table.loc["occluded", ["head macro-F1 low", "head macro-F1 high"]]).all()


def test_emotion_condition_report_lines():
    summary, per_class = condition_sections(emotion_table().reset_index(), "head")
    assert "over the classes with a labelled test frame" in summary
    cells = [line.replace(" ", "").split("|") for line in summary.splitlines()]
    header = cells[2]
    assert header[1:6] == ["condition", "frames", "subjects", "classes", "headaccuracy"]
    occluded = next(row for row in cells if row[1:2] == ["occluded"])
    assert occluded[2:8] == ["20", "1", "2of3", "90.0", "87.5", "–"]
    clean = next(row for row in cells if row[1:2] == ["clean"])
    assert clean[2:8] == ["20", "2", "3of3", "70.0", "44.1", "[44.1,76.2]"]
    assert "|occluded|100.0|75.0|n/a|" in per_class.replace(" ", "")


def test_subject_weights_are_seeded_resamples():
    weights = subject_weights(5, draws=200, seed=3)
    assert weights.shape == (200, 5) and (weights.sum(1) == 5).all()
    assert np.array_equal(weights, subject_weights(5, draws=200, seed=3))
    counts = np.array([[1.0], [3.0]])
    assert subject_interval(counts[:1], lambda c: c[:, 0]) == pytest.approx(
        (np.nan,) * 2, nan_ok=True
    )
    # means of two draws from {1, 3}: 1 (1/4), 2 (1/2), 3 (1/4)
    assert subject_interval(counts, lambda c: c[:, 0] / 2) == pytest.approx((1.0, 3.0))
