"""Emotion evaluation: metrics on a known confusion, AUC, saved files and data readers."""

import json

import numpy as np
import pandas as pd
import pytest

from au.emotion_eval import emotion_report, read_emotion_folders, read_fer2013_csv, save_report

CLASSES = ["neutral", "happiness", "sadness"]
# true:   H H H H  S S S  N N N
# pred:   H H H N  S S H  N S S
Y_TRUE = ["happiness"] * 4 + ["sadness"] * 3 + ["neutral"] * 3
Y_PRED = ["happiness"] * 3 + ["neutral", "sadness", "sadness", "happiness", "neutral"]
Y_PRED += ["sadness", "sadness"]


def test_report_on_a_known_confusion():
    report = emotion_report(Y_TRUE, Y_PRED, None, CLASSES)
    assert report.accuracy == pytest.approx(0.6)
    assert report.counts.to_numpy().tolist() == [[1, 0, 2], [1, 3, 0], [0, 1, 2]]
    expected = np.array([[1 / 3, 0, 2 / 3], [1 / 4, 3 / 4, 0], [0, 1 / 3, 2 / 3]])
    assert np.allclose(report.confusion.to_numpy(), expected)
    table = report.per_class
    assert table["precision"].tolist() == pytest.approx([1 / 2, 3 / 4, 1 / 2])
    assert table["recall"].tolist() == pytest.approx([1 / 3, 3 / 4, 2 / 3])
    assert table["f1"].tolist() == pytest.approx([2 / 5, 3 / 4, 4 / 7])
    assert table["support"].tolist() == [3, 4, 3]
    assert report.macro["precision"] == pytest.approx(7 / 12)
    assert report.macro["recall"] == pytest.approx(7 / 12)
    assert report.macro["f1"] == pytest.approx((2 / 5 + 3 / 4 + 4 / 7) / 3)
    assert np.isnan(report.macro["auc"]) and report.roc == {}


def test_absent_class_is_nan_and_left_out_of_macros():
    report = emotion_report(Y_TRUE, Y_PRED, None, [*CLASSES, "contempt"])
    assert np.isnan(report.per_class.loc["contempt", ["precision", "recall", "f1"]]).all()
    assert np.isnan(report.confusion.loc["contempt"]).all()
    assert report.macro["f1"] == pytest.approx((2 / 5 + 3 / 4 + 4 / 7) / 3)


def test_auc_separating_reversed_and_by_hand():
    y = ["happiness", "happiness", "sadness", "sadness"]
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8]])
    report = emotion_report(y, y, perfect, ["happiness", "sadness"])
    assert report.per_class["auc"].tolist() == [1.0, 1.0] and report.macro["auc"] == 1.0
    reversed_ = emotion_report(y, y, 1 - perfect, ["happiness", "sadness"])
    assert reversed_.per_class["auc"].tolist() == [0.0, 0.0]
    # happiness scores: positives 0.8, 0.4; negatives 0.6, 0.2 -> 3 of 4 pairs ordered
    mixed = np.array([[0.8, 0.0, 0.5], [0.4, 0.0, 0.5], [0.6, 1.0, 0.1], [0.2, 1.0, 0.2]])
    report = emotion_report(y, y, mixed, ["happiness", "sadness", "neutral"])
    assert report.per_class.loc["happiness", "auc"] == pytest.approx(0.75)
    assert np.isnan(report.per_class.loc["neutral", "auc"])  # absent from y_true
    assert report.macro["auc"] == pytest.approx((0.75 + 1.0) / 2)
    fpr, tpr = report.roc["happiness"]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)


def test_bad_labels_and_scores_raise():
    with pytest.raises(ValueError, match=r"y_pred has labels \['bored'\]"):
        emotion_report(["neutral"], ["bored"], None, CLASSES)
    with pytest.raises(ValueError, match=r"expected \(10, 3\)"):
        emotion_report(Y_TRUE, Y_PRED, np.zeros((10, 2)), CLASSES)


def test_save_report_writes_tables_and_figures(tmp_path):
    rng = np.random.default_rng(0)
    scores = rng.random((10, 3))
    scores[:, 2] = np.nan  # a class the AU model cannot express gets no curve
    report = emotion_report(Y_TRUE, Y_PRED, scores, CLASSES)
    paths = save_report(report, tmp_path / "out")
    assert set(paths) == {
        "emotion_metrics.csv",
        "emotion_summary.json",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "roc_curves.png",
    }
    summary = json.loads(paths["emotion_summary.json"].read_text())
    assert summary["accuracy"] == pytest.approx(0.6) and summary["n"] == 10
    assert summary["macro_auc"] == pytest.approx(report.macro["auc"])
    metrics = pd.read_csv(paths["emotion_metrics.csv"], index_col="class")
    assert metrics.loc["happiness", "recall"] == pytest.approx(0.75)
    confusion = pd.read_csv(paths["confusion_matrix.csv"], index_col="true")
    assert confusion.loc["neutral", "sadness"] == pytest.approx(2 / 3)
    assert paths["confusion_matrix.png"].read_bytes()[:4] == b"\x89PNG"
    no_roc = save_report(emotion_report(Y_TRUE, Y_PRED, None, CLASSES), tmp_path / "plain")
    assert "roc_curves.png" not in no_roc
    assert json.loads(no_roc["emotion_summary.json"].read_text())["macro_auc"] is None


def test_read_emotion_folders_with_synonyms(tmp_path):
    files = ["Happy/a.jpg", "angry/b.PNG", "sad/subject1/c.jpeg", "Surprised/d.png"]
    files += ["fearful/e.jpg", "disgusted/f.jpg", "Neutral/g.bmp", "Happy/notes.txt"]
    files += ["Happy/.hidden.jpg"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    table = read_emotion_folders(tmp_path)
    assert list(table.columns) == ["path", "emotion"]
    found = dict(zip(table["path"].str.removeprefix(f"{tmp_path}/"), table["emotion"], strict=True))
    assert found == {
        "Happy/a.jpg": "happiness",
        "angry/b.PNG": "anger",
        "sad/subject1/c.jpeg": "sadness",
        "Surprised/d.png": "surprise",
        "fearful/e.jpg": "fear",
        "disgusted/f.jpg": "disgust",
        "Neutral/g.bmp": "neutral",
    }
    (tmp_path / "bored").mkdir()
    with pytest.raises(ValueError, match="folder .*bored is not named after an emotion.*happy"):
        read_emotion_folders(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        read_emotion_folders(tmp_path / "missing")


def write_fer(path, rows, header="emotion,pixels,Usage"):
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def test_read_fer2013_csv(tmp_path):
    image = np.arange(2304) % 256
    pixels = " ".join(map(str, image))
    write_fer(tmp_path / "fer.csv", [(3, pixels, "Training"), (0, pixels, "PublicTest")])
    images, emotions, usage = read_fer2013_csv(tmp_path / "fer.csv")
    assert images.shape == (2, 48, 48) and images.dtype == np.uint8
    assert np.array_equal(images[1].ravel(), image)
    assert emotions == ["happiness", "anger"] and usage == ["Training", "PublicTest"]
    write_fer(tmp_path / "spaced.csv", [(6, "PrivateTest", pixels)], "emotion, Usage, pixels")
    assert read_fer2013_csv(tmp_path / "spaced.csv")[1:] == (["neutral"], ["PrivateTest"])


def test_read_fer2013_csv_errors(tmp_path):
    pixels = " ".join(["7"] * 2304)
    short = " ".join(["7"] * 2303)
    write_fer(tmp_path / "short.csv", [(3, pixels, "Training"), (4, short, "Training")])
    with pytest.raises(ValueError, match=r"row 2 \(line 3\): pixels has 2303 values"):
        read_fer2013_csv(tmp_path / "short.csv")
    write_fer(tmp_path / "text.csv", [(3, pixels.replace("7", "x", 1), "Training")])
    with pytest.raises(ValueError, match=r"row 1 \(line 2\): pixels must be 2304 integers"):
        read_fer2013_csv(tmp_path / "text.csv")
    write_fer(tmp_path / "code.csv", [(7, pixels, "Training")])
    with pytest.raises(ValueError, match="emotion '7' is not a code 0-6"):
        read_fer2013_csv(tmp_path / "code.csv")
    write_fer(tmp_path / "cols.csv", [(3, "Training")], "emotion,Usage")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['pixels'\]"):
        read_fer2013_csv(tmp_path / "cols.csv")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_fer2013_csv(tmp_path / "nope.csv")
