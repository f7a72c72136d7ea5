"""task=joint and the task plumbing: the joint loss by hand, the prediction store, the configs."""

import math

import pytest
import torch

from au.evaluation.evaluator import EvaluationResult, merge_results
from au.losses import BCELoss
from au.models.module import AULitModule, PredictionStore
from au.tasks.joint import JointTask

from .conftest import compose_fit


class StubModule:
    """The task owns its losses: the module passed to ``loss`` is not read."""


def test_joint_loss_adds_the_weighted_emotion_loss_where_labelled():
    """AU: BCE of logit 0 for a present AU is ln 2; emotion: -ln(3/4); weight 0.5."""
    task = JointTask(["neutral", "happiness"], emotion_weight=0.5)
    assert isinstance(task.build_loss({"name": "bce"}), BCELoss)
    outputs = {"au": torch.zeros(1, 1), "emotion": torch.tensor([[0.0, math.log(3.0)]])}
    batch = {"labels": torch.ones(1, 1), "mask": torch.ones(1, 1), "emotion": torch.tensor([1])}
    expected = math.log(2) + 0.5 * -math.log(0.75)
    assert float(task.loss(StubModule, outputs, batch)) == pytest.approx(expected)
    unlabelled = {**batch, "emotion": torch.tensor([-1])}
    assert float(task.loss(StubModule, outputs, unlabelled)) == pytest.approx(math.log(2))
    no_au = {**batch, "mask": torch.zeros(1, 1)}
    assert float(task.loss(StubModule, outputs, no_au)) == pytest.approx(0.5 * -math.log(0.75))


def test_negative_emotion_weight_is_refused():
    with pytest.raises(ValueError, match="task.emotion_weight must be >= 0"):
        JointTask(emotion_weight=-1.0)


def test_joint_module_has_both_heads_and_the_default_keeps_its_keys():
    backbone = {"name": "test_efficientnet", "pretrained": False}
    joint = AULitModule(["AU1", "AU12"], backbone, task={"name": "joint"}, channels_last=False)
    outputs = joint.eval()(torch.zeros(2, 3, 32, 32))
    assert outputs["au"].shape == (2, 2) and outputs["emotion"].shape == (2, 7)
    default = AULitModule(["AU1", "AU12"], backbone)  # checkpoints from before tasks load
    assert default.task.name == "au"
    assert {k for k in default.state_dict() if k.startswith("head.")} == {
        "head.norm.weight", "head.norm.bias", "head.norm.running_mean", "head.norm.running_var",
        "head.norm.num_batches_tracked", "head.fc.weight", "head.fc.bias",
    }  # fmt: skip


def test_prediction_store_keeps_shapes_sorts_ids_and_drops_repeats():
    store = PredictionStore(("logits", "emotion"))
    store.update(torch.tensor([2, 0]), logits=torch.tensor([[2.0, 2.0], [0.0, 0.0]]),
                 emotion=torch.tensor([5, 3]))  # fmt: skip
    store.update(
        torch.tensor([1, 2]),
        logits=torch.tensor([[1.0, 1.0], [9.0, 9.0]]),
        emotion=torch.tensor([4, 6]),
    )  # fmt: skip (id 2 again: a padded DDP batch)
    out = store.compute()
    assert out["ids"].tolist() == [0, 1, 2]
    assert out["logits"].tolist() == [[0, 0], [1, 1], [2, 2]]
    assert out["emotion"].tolist() == [3, 4, 5]


def test_merged_results_keep_order_and_refuse_conflicts():
    au = EvaluationResult("f1", {"f1": 0.5, "subjects": ["S1"]}, {"metrics": None}, ["AU"])
    emotion = EvaluationResult("macro_f1", {"macro_f1": 0.4, "subjects": ["S1"]}, {}, ["emo"])
    merged = merge_results([au, emotion], "macro_f1")
    assert merged.score == 0.4 and merged.sections == ["AU", "emo"]
    assert merged.summary == {"f1": 0.5, "subjects": ["S1"], "macro_f1": 0.4}
    other = EvaluationResult("macro_f1", {"subjects": ["S2"]}, {}, [])
    with pytest.raises(ValueError, match=r"keys \['subjects'\] appear twice"):
        merge_results([au, other], "f1")


@pytest.mark.parametrize(
    "task, monitor, experiment",
    [
        ("au", "val/f1", "bce"),
        ("intensity", "val/icc", "intensity-mse"),
        ("emotion", "val/macro_f1", "emotion"),
        ("joint", "val/macro_f1", "joint-bce"),
    ],
)
def test_each_task_config_sets_its_checkpoint_monitor(task, monitor, experiment):
    config = compose_fit([f"task={task}"])
    assert config.task.name == task
    assert (config.schedule.monitor, config.schedule.mode) == (monitor, "max")
    assert config.experiment_name == experiment


def test_default_fit_config_is_the_au_task_and_experiments_still_name_runs():
    assert compose_fit([]).task == {"name": "au"}
    config = compose_fit(["task=joint", "experiment=lsep", "task.emotion_weight=0.25"])
    assert (config.experiment_name, config.task.emotion_weight) == ("lsep", 0.25)
