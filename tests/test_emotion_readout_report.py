"""The AU read-out scored on emotion labels, and emotion scores per test condition."""

import numpy as np
import pandas as pd
import pytest
import torch

from au.emotions import BASIC_EMOTIONS
from au.evaluation.emotion import EmotionEvaluator, condition_scores
from au.evaluation.evaluator import EvaluationResult

AUS = ["AU1", "AU2", "AU4", "AU6", "AU12", "AU25", "AU26"]
#: AU probabilities of four faces: smile (AU6+12), nothing, surprise (1+2+25+26), frown (AU4).
PROBS = [
    [0.05, 0.05, 0.05, 0.9, 0.9, 0.1, 0.05],
    [0.05] * 7,
    [0.9, 0.9, 0.05, 0.05, 0.05, 0.9, 0.9],
    [0.05, 0.05, 0.9, 0.05, 0.05, 0.05, 0.05],
]
CLASSES = list(BASIC_EMOTIONS)


def _outputs(labels):
    logits = torch.logit(torch.tensor(PROBS, dtype=torch.float64)).float()
    index = [CLASSES.index(name) for name in labels]
    return {"logits": logits, "emotion": torch.tensor(index), "ids": torch.arange(4)}


def test_readout_alone_scores_an_au_model_on_emotion_labels():
    # the calibrated read-out answers happiness, neutral, surprise, anger (thresholds 0.3);
    # the first rule answers neutral for the frown (AU4 alone) as well.
    truth = ["happiness", "neutral", "surprise", "sadness"]
    evaluator = EmotionEvaluator(
        CLASSES,
        train_labels=torch.tensor([0, 0, 0, 1]),  # majority: neutral
        readout=(AUS, torch.full((7,), 0.3)),
        has_head=False,
    )
    evaluator.process(_outputs(truth))
    result = evaluator.evaluate()
    summary = result.summary
    assert "macro_f1" not in summary and "accuracy" not in summary  # no head, no head scores
    assert summary["readout_calibrated_accuracy"] == pytest.approx(3 / 4)
    assert summary["readout_prototype_v1_accuracy"] == pytest.approx(3 / 4)
    assert summary["majority_accuracy"] == pytest.approx(1 / 4)
    # macro-F1 of the calibrated read-out over the classes that occur or are predicted:
    # happiness, neutral, surprise 1.0; sadness 0 (missed); anger 0 (false alarm) -> 3/5
    assert summary["readout_calibrated_macro_f1"] == pytest.approx(3 / 5)
    frames = result.tables["emotion_predictions"]
    assert list(frames["readout/calibrated"]) == ["happiness", "neutral", "surprise", "anger"]
    assert "predicted" not in frames  # no emotion head
    with pytest.raises(ValueError, match="needs the AU read-out"):
        EmotionEvaluator(CLASSES, torch.tensor([0]), has_head=False)


def test_emotion_scores_per_condition_by_hand():
    frames = pd.DataFrame(
        {
            "low_light": [1] * 20 + [0] * 20,
            "roll": [0.0] * 40,
            "yaw": [0.0] * 30 + [20.0] * 10,
            "occlusion": ["none"] * 40,
            "glasses": ["none"] * 40,
            "subject": ["S1"] * 15 + ["S2"] * 25,
        }
    )
    truth = ["happiness"] * 10 + ["neutral"] * 10 + ["happiness"] * 20
    model = ["happiness"] * 5 + ["neutral"] * 15 + ["happiness"] * 20
    table = condition_scores(frames, truth, {"head": model}, CLASSES).set_index("condition")
    # low light (first 20 frames): 15 of 20 right; happiness F1 = 2*5/(10+5) = 2/3, neutral
    # F1 = 2*10/(10+15) = 0.8 -> macro 0.7333
    assert table.loc["low light", ["frames", "subjects"]].tolist() == [20, 2]
    assert table.loc["low light", "head accuracy"] == pytest.approx(0.75)
    assert table.loc["low light", "head macro-F1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # conditions with fewer than 20 frames are left out: clean (frames 20-29), rotated
    # (30-39), glasses and occlusion (none)
    assert list(table.index) == ["low light"]
    assert condition_scores(frames[["low_light"]].iloc[:0], [], {}, CLASSES) is None


def test_au_task_record_scores_the_readout_on_the_synthetic_emotions(small_synthetic):
    from au.data.datamodule import AUDataModule
    from au.models.module import AULitModule
    from tests.conftest import SMALL_SYNTHETIC

    datamodule = AUDataModule(synthetic=SMALL_SYNTHETIC, image_size=64, aus=AUS)
    datamodule.prepare_data()
    datamodule.setup("test")
    module = AULitModule(AUS, backbone={"name": "tiny", "pretrained": False})
    rows = datamodule.rows["test"]
    evaluator = module.task.evaluator(module, datamodule, "test")
    labels = torch.as_tensor(datamodule.datasets["test"].labels)
    logits = (labels * 2 - 1) * 4.0  # the true AUs, confidently: F1 1 on coded AUs
    mask = torch.as_tensor(datamodule.datasets["test"].mask)
    evaluator.process({"logits": logits, "labels": labels, "mask": mask,
                       "ids": torch.arange(len(rows))})  # fmt: skip
    result = evaluator.evaluate()
    assert result.headline == "f1" and result.score == pytest.approx(1.0)
    truth = datamodule.index.table["emotion"].iloc[rows]
    labelled = truth.isin(CLASSES)
    assert result.summary["emotion_frames"] == int(labelled.sum()) > 0
    per_frame = result.tables["emotion_predictions"]
    assert list(per_frame["label"]) == list(truth[labelled])
    # read-out of the true AUs beats the majority class on the synthetic episodes
    assert result.summary["readout_calibrated_macro_f1"] > result.summary["majority_macro_f1"]
    assert np.isfinite(result.summary["readout_prototype_v1_accuracy"])
    # the per-condition tables count subjects (the AU table over the test frames, the emotion
    # table over the labelled ones), and the report prints the counts as counts, not percent
    from au.evaluation.occurrence_report import SYNTHETIC_CONDITIONS

    test_frames = datamodule.index.table.iloc[rows]
    scored = {"f1_by_condition": test_frames, "emotion_by_condition": test_frames[labelled]}
    for name, frames in scored.items():
        table = result.tables[name]
        assert len(table) > 0
        for row in table.itertuples():
            chosen = frames.query(dict(SYNTHETIC_CONDITIONS)[row.condition])
            assert (row.frames, row.subjects) == (len(chosen), chosen["subject"].nunique())
    first = result.tables["emotion_by_condition"].iloc[0]
    report = "\n".join(result.sections).split("Emotion by test condition")[1]
    line = next(line for line in report.splitlines() if line.startswith(f"| {first.condition} "))
    assert [int(cell) for cell in line.split("|")[2:4]] == [first.frames, first.subjects]


def test_readout_merges_with_an_au_record_whose_subjects_differ():
    from au.evaluation.evaluator import merge_results

    frames = pd.DataFrame({"subject": ["S1", "S1", "S2", "S2"], "row": range(4)})
    evaluator = EmotionEvaluator(
        CLASSES, torch.tensor([0]), frames=frames, readout=(AUS, torch.full((7,), 0.3)),
        has_head=False,
    )  # fmt: skip
    outputs = _outputs(["happiness", "neutral", "surprise", "sadness"])
    outputs["emotion"] = torch.tensor([1, 0, -1, -1])  # S2's faces carry no emotion label
    evaluator.process(outputs)
    emotion = evaluator.evaluate()
    assert emotion.summary["emotion_subjects"] == ["S1"]
    au = EvaluationResult("f1", {"f1": 0.5, "subjects": ["S1", "S2"]}, {}, [])
    merged = merge_results([au, emotion], "f1")  # a combined data set: more AU subjects
    assert merged.summary["subjects"] == ["S1", "S2"]
