"""task=emotion: class labels from the index, the masked loss, the evaluator by hand."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from au.data.index import AUIndex, IndexFormatError
from au.evaluation.emotion import EmotionEvaluator
from au.run.config_checks import ConfigValueError
from au.tasks.emotion import EmotionTask, MaskedCrossEntropy
from au.tasks.registry import build_task

CLASSES = ["neutral", "happiness", "surprise"]


def index_with(emotions: list) -> AUIndex:
    paths = [f"{i}.png" for i in range(len(emotions))]
    table = pd.DataFrame({"path": paths, "subject": "s1", "emotion": emotions})
    return AUIndex(table, Path("/data"), {})


def test_emotion_labels_are_class_indices_with_empty_and_other_unlabelled():
    index = index_with(["happy", "", "other", "neutral", np.nan, "Surprised"])
    assert index.emotion_labels(CLASSES).tolist() == [1, -1, -1, 0, -1, 2]


def test_an_emotion_outside_the_classes_names_its_csv_rows():
    index = index_with(["neutral", "fear", "fear", "contempt"])
    with pytest.raises(IndexFormatError) as error:
        index.emotion_labels(CLASSES)
    assert "'fear' in rows 3, 4" in str(error.value)
    assert "'contempt' in rows 5" in str(error.value)
    assert "task.emotions" in str(error.value)


def test_data_without_any_emotion_label_is_refused():
    task = EmotionTask(CLASSES)
    targets = task.targets(index_with(["other", ""]), [])
    with pytest.raises(IndexFormatError, match=r"the data \(/data\) has no emotion label"):
        task.check_targets(targets, "/data")
    assert task.needs_au_labels is False  # an emotion-only set (FER-2013) codes no AU


def test_masked_cross_entropy_by_hand():
    """Row 0: p(happiness) = 3 / (1 + 3), loss -ln 0.75; row 1 is unlabelled."""
    logits = torch.tensor([[0.0, math.log(3.0), -1e9], [5.0, 0.0, 0.0]], requires_grad=True)
    loss = MaskedCrossEntropy()(logits, torch.tensor([1, -1]))
    assert float(loss.detach()) == pytest.approx(-math.log(0.75))
    nothing = MaskedCrossEntropy()(logits, torch.tensor([-1, -1]))
    nothing.backward()
    assert float(nothing.detach()) == 0.0 and logits.grad is not None


def test_bad_task_options_are_config_errors():
    known = "au, emotion, intensity, joint"
    unknown = rf"unknown task 'emotions'; choose one of {known} \(did you mean emotion\?\)$"
    with pytest.raises(ConfigValueError, match=unknown):
        build_task({"name": "emotions"})
    with pytest.raises(ConfigValueError, match="need 2 or more distinct emotions"):
        build_task({"name": "emotion", "emotions": ["happy", "happiness"]})
    with pytest.raises(ConfigValueError, match="unknown emotion 'glee'"):
        build_task({"name": "emotion", "emotions": ["neutral", "glee"]})


def one_hot_logits(classes: list[int]) -> torch.Tensor:
    return 4.0 * torch.nn.functional.one_hot(torch.tensor(classes), 3).float()


def test_evaluator_scores_model_and_majority_by_hand():
    """Truth n n h h s (and one unlabelled frame); model n h h h n; majority (train) neutral.

    Model: accuracy 3/5; F1 neutral 1/2 (P 1/2, R 1/2), happiness 4/5 (P 2/3, R 1), surprise 0;
    macro 13/30; balanced accuracy (1/2 + 1 + 0)/3. Majority: accuracy 2/5, F1 neutral 4/7,
    others 0, macro 4/21, balanced accuracy 1/3.
    """
    evaluator = EmotionEvaluator(CLASSES, train_labels=torch.tensor([0, 0, -1, 0, 1]))
    for truth, answers, ids in (
        ([0, 0, 1], [0, 1, 1], [0, 1, 2]),
        ([1, 2, -1], [1, 0, 2], [3, 4, 5]),
    ):
        evaluator.process(
            {
                "emotion_logits": one_hot_logits(answers),
                "emotion": torch.tensor(truth),
                "ids": torch.tensor(ids),
            }
        )
    result = evaluator.evaluate()
    summary = result.summary
    assert (result.headline, summary["emotion_frames"]) == ("macro_f1", 5)
    assert summary["accuracy"] == pytest.approx(3 / 5)
    assert summary["macro_f1"] == pytest.approx(13 / 30)
    assert summary["balanced_accuracy"] == pytest.approx(1 / 2)
    assert summary["majority_class"] == "neutral"
    assert summary["majority_accuracy"] == pytest.approx(2 / 5)
    assert summary["majority_macro_f1"] == pytest.approx(4 / 21)
    assert summary["majority_balanced_accuracy"] == pytest.approx(1 / 3)
    confusion = result.tables["emotion_confusion"].set_index("true")
    assert confusion.loc["neutral"].tolist() == [0.5, 0.5, 0.0]
    assert confusion.loc["surprise"].tolist() == [1.0, 0.0, 0.0]
    assert result.tables["emotion_predictions"]["predicted"].tolist() == [
        "neutral", "happiness", "happiness", "happiness", "neutral"
    ]  # fmt: skip
    assert "majority class" in result.sections[0] and "read-out" not in result.sections[0]
