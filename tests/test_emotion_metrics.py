"""Emotion metrics on a known confusion (by hand), the majority baseline, AUC, files, figures."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from au.evaluation.emotion_metrics import (
    emotion_metrics,
    majority_baseline,
    majority_class,
    summary_table,
    write_emotion_tables,
)
from au.evaluation.emotion_plots import save_confusion_matrix, save_roc_curves

CLASSES = ["neutral", "happiness", "sadness"]
# true:   H H H H  S S S  N N N
# pred:   H H H N  S S H  N S S
Y_TRUE = ["happiness"] * 4 + ["sadness"] * 3 + ["neutral"] * 3
Y_PRED = ["happiness"] * 3 + ["neutral", "sadness", "sadness", "happiness", "neutral"]
Y_PRED += ["sadness", "sadness"]
F1_BY_HAND = [
    2 / 5,
    3 / 4,
    4 / 7,
]  # neutral 2*(1/2)(1/3)/(5/6), happiness 3/4, sadness 2*(1/2)(2/3)/(7/6)


def test_known_confusion_by_hand():
    m = emotion_metrics(Y_TRUE, Y_PRED, None, CLASSES)
    assert m.accuracy == pytest.approx(6 / 10)
    assert m.counts.to_numpy().tolist() == [[1, 0, 2], [1, 3, 0], [0, 1, 2]]
    expected = np.array([[1 / 3, 0, 2 / 3], [1 / 4, 3 / 4, 0], [0, 1 / 3, 2 / 3]])
    assert np.allclose(m.confusion.to_numpy(), expected)
    assert m.per_class["precision"].tolist() == pytest.approx([1 / 2, 3 / 4, 1 / 2])
    assert m.per_class["recall"].tolist() == pytest.approx([1 / 3, 3 / 4, 2 / 3])
    assert m.per_class["f1"].tolist() == pytest.approx(F1_BY_HAND)
    assert m.per_class["support"].tolist() == [3, 4, 3]
    assert m.balanced_accuracy == pytest.approx((1 / 3 + 3 / 4 + 2 / 3) / 3)  # 7/12
    assert m.macro["f1"] == pytest.approx(sum(F1_BY_HAND) / 3)  # 0.5738
    assert m.macro["precision"] == pytest.approx(7 / 12)
    assert np.isnan(m.macro["auc"]) and m.roc == {}


def test_balanced_accuracy_ignores_a_class_only_predicted():
    # contempt never occurs but is predicted once (for a happiness face)
    y_pred = ["contempt", *Y_PRED[1:]]
    m = emotion_metrics(Y_TRUE, y_pred, None, [*CLASSES, "contempt", "fear"])
    assert m.per_class.loc["happiness", "recall"] == pytest.approx(2 / 4)
    assert m.balanced_accuracy == pytest.approx((1 / 3 + 2 / 4 + 2 / 3) / 3)
    # macro recall (torchmetrics) counts contempt's recall of 0, not fear (absent everywhere)
    assert m.macro["recall"] == pytest.approx((1 / 3 + 2 / 4 + 2 / 3 + 0) / 4)
    assert np.isnan(m.per_class.loc["fear", ["precision", "recall", "f1"]]).all()
    assert np.isnan(m.confusion.loc["contempt"]).all()


def test_majority_baseline_by_hand():
    assert majority_class(["sadness", "happiness", "sadness", "happiness"], CLASSES) == "happiness"
    base = majority_baseline(Y_TRUE, None, CLASSES)  # test majority: happiness (4 of 10)
    assert base.accuracy == pytest.approx(0.4)
    assert base.balanced_accuracy == pytest.approx(1 / 3)
    assert base.macro["f1"] == pytest.approx((2 * 0.4 * 1 / 1.4) / 3)  # 4/21
    assert base.macro["auc"] == pytest.approx(0.5)  # one constant score for every face
    train = ["neutral"] * 5 + ["happiness"] * 2
    assert majority_baseline(Y_TRUE, train, CLASSES).accuracy == pytest.approx(0.3)
    table = summary_table(
        {"model": emotion_metrics(Y_TRUE, Y_PRED, None, CLASSES), "majority": base}
    )
    assert table.loc["model", "accuracy"] == pytest.approx(0.6) and table["n"].tolist() == [10, 10]


def test_auc_separating_reversed_and_by_hand():
    y = ["happiness", "happiness", "sadness", "sadness"]
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8]])
    m = emotion_metrics(y, y, perfect, ["happiness", "sadness"])
    assert m.per_class["auc"].tolist() == [1.0, 1.0] and m.macro["auc"] == 1.0
    assert emotion_metrics(y, y, 1 - perfect, ["happiness", "sadness"]).macro["auc"] == 0.0
    # happiness scores: positives 0.8, 0.4; negatives 0.6, 0.2 -> 3 of 4 pairs ordered
    mixed = np.array([[0.8, 0.0, 0.5], [0.4, 0.0, 0.5], [0.6, 1.0, 0.1], [0.2, 1.0, 0.2]])
    m = emotion_metrics(y, y, mixed, ["happiness", "sadness", "neutral"])
    assert m.per_class.loc["happiness", "auc"] == pytest.approx(0.75)
    assert np.isnan(m.per_class.loc["neutral", "auc"])  # absent from y_true
    assert m.macro["auc"] == pytest.approx((0.75 + 1.0) / 2)
    fpr, tpr = m.roc["happiness"]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)


def test_bad_labels_and_scores_raise():
    with pytest.raises(ValueError, match=r"y_pred has labels \['bored'\]"):
        emotion_metrics(["neutral"], ["bored"], None, CLASSES)
    with pytest.raises(ValueError, match=r"expected \(10, 3\)"):
        emotion_metrics(Y_TRUE, Y_PRED, np.zeros((10, 2)), CLASSES)
    with pytest.raises(ValueError, match="same, non-zero length"):
        emotion_metrics([], [], None, CLASSES)


def test_tables_and_figures_are_written(tmp_path):
    scores = np.random.default_rng(0).random((10, 3))
    scores[:, 2] = np.nan  # a class the AU read-out cannot express gets no curve
    m = emotion_metrics(Y_TRUE, Y_PRED, scores, CLASSES)
    paths = write_emotion_tables(m, tmp_path, majority_baseline(Y_TRUE, None, CLASSES))
    summary = json.loads(paths["emotion_summary.json"].read_text())
    assert summary["n"] == 10 and summary["accuracy"] == pytest.approx(0.6)
    assert summary["balanced_accuracy"] == pytest.approx(7 / 12, abs=1e-6)
    assert summary["majority_baseline"]["accuracy"] == pytest.approx(0.4)
    metrics = pd.read_csv(paths["emotion_metrics.csv"], index_col="class")
    assert metrics.loc["happiness", "recall"] == pytest.approx(0.75)
    confusion = pd.read_csv(paths["confusion_matrix.csv"], index_col="true")
    assert confusion.loc["neutral", "sadness"] == pytest.approx(2 / 3)
    for path in (
        save_confusion_matrix(m, tmp_path / "cm.png", "read-out"),
        save_roc_curves(m, tmp_path / "roc.png"),
    ):
        image = cv2.imread(str(path))
        assert image is not None and image.shape[0] > 300 and image.std() > 10  # drawn, not blank
    assert (
        save_roc_curves(emotion_metrics(Y_TRUE, Y_PRED, None, CLASSES), tmp_path / "x.png") is None
    )
    assert not (tmp_path / "x.png").exists()
    no_auc = write_emotion_tables(emotion_metrics(Y_TRUE, Y_PRED, None, CLASSES), tmp_path / "p")
    assert json.loads(no_auc["emotion_summary.json"].read_text())["macro_auc"] is None
