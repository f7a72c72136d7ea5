"""A new task touches only its module, its YAML and its evaluator.

``ValenceTask`` below is such a module (with its own registered loss and evaluator), written
as a user would add one, not an AU task in disguise: one score per face, trained with an L1
loss, evaluated by its mean absolute error. Nothing else in au is edited, yet the config check,
the Lightning module, the checkpoint, ``Detector.predict`` (a ``valence_score`` column) and the
exported sidecar all follow it.
"""

import json
from collections.abc import Mapping

import lightning
import numpy as np
import pytest
import torch
from torch import nn

from au.evaluation.evaluator import EvaluationResult
from au.inference.api import Detector
from au.inference.onnx_torchscript import InferenceModel
from au.inference.sidecar import write_sidecar
from au.losses import registry as loss_registry
from au.losses.registry import build_loss, register_loss, registered_losses
from au.models.module import AULitModule
from au.run.config import compose_config
from au.run.config_checks import ConfigValueError, check_config_values
from au.tasks import registry as task_registry
from au.tasks.base import Task, log_scores
from au.tasks.registry import register_task, registered_tasks

MEANING = "float32: valence, -1 (negative) to 1 (positive)"


class MeanAbsoluteError:
    """The toy task's evaluator (au.evaluation.evaluator.Evaluator protocol)."""

    def reset(self) -> None:
        self.errors: list[torch.Tensor] = []

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        self.errors.append((outputs["valence_estimates"] - outputs["valence"]).abs())

    def evaluate(self) -> EvaluationResult:
        mae = float(torch.cat(self.errors).mean())
        return EvaluationResult("mae", {"mae": mae}, {})


@pytest.fixture
def valence_task(monkeypatch):
    """The toy task and its loss, registered; both registries restored afterwards."""
    monkeypatch.setattr(task_registry.TASKS, "_entries", registered_tasks())
    monkeypatch.setattr(loss_registry.LOSSES, "_entries", registered_losses())

    @register_loss("valence_l1", target="valence")
    class ValenceL1(nn.Module):
        def forward(self, estimates, targets):
            return (estimates - targets).abs().mean()

    @register_task("valence")
    class ValenceTask(Task):
        headline = "mae"
        needs_au_labels = False
        stored_keys = ("valence_estimates", "valence")
        inference_names = ("valence",)
        output_meanings = {"valence": MEANING}

        def __init__(self, scale: float = 1.0):
            if scale <= 0:
                raise ValueError(f"task.scale must be positive, got {scale}")
            self.scale = scale

        def build_loss(self, config):
            self.loss_fn = build_loss({"name": "valence_l1"}, "valence", key="task.loss")
            return self.loss_fn

        def build_head(self, in_features, num_aus, options):
            return nn.Sequential(nn.Linear(in_features, 1), nn.Tanh(), nn.Flatten(0))

        def loss(self, module, outputs, batch):
            return self.loss_fn(self.scale * outputs, batch["valence"])

        def stored(self, module, outputs, batch):
            return {"valence_estimates": self.scale * outputs, "valence": batch["valence"]}

        def validation_end(self, module, out):
            log_scores(
                module,
                "val",
                {"mae": float((out["valence_estimates"] - out["valence"]).abs().mean())},
                "mae",
            )

        def test_end(self, module, out):
            return out

        def evaluator(self, module, datamodule, split, figure_dir=None):
            return MeanAbsoluteError()

        def inference_outputs(self, module, outputs):
            return {"valence": (self.scale * outputs)[:, None]}

        def output_labels(self, aus):
            return {"valence": ["score"]}

    return ValenceTask


def valence_config(tmp_path, *overrides):
    """The fit config with the task's YAML on Hydra's search path."""
    (tmp_path / "task").mkdir(exist_ok=True)
    (tmp_path / "task" / "valence.yaml").write_text(
        "# @package _global_\ntask:\n  name: valence\n  scale: 0.5\n"
        "schedule:\n  monitor: val/mae\n  mode: min\nexperiment_name: valence\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path}]"
    return compose_config(
        "fit", [search, "task=valence", f"paths.output_dir={tmp_path}", *overrides]
    )


def valence_module(task_options=None) -> AULitModule:
    torch.manual_seed(0)
    return AULitModule(
        aus=["AU1", "AU2"],
        backbone={"name": "test_efficientnet", "pretrained": False},
        data_config={"image_size": 32, "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3},
        task={"name": "valence", **(task_options or {})},
    ).eval()


def test_the_config_check_follows_the_new_task(valence_task, tmp_path):
    check_config_values(valence_config(tmp_path))
    with pytest.raises(ConfigValueError, match="task.scal: unknown key .did you mean scale"):
        check_config_values(valence_config(tmp_path, "+task.scal=2"))
    with pytest.raises(ConfigValueError, match="model.loss: task=valence does not read it"):
        check_config_values(valence_config(tmp_path, "loss=lsep"))


def test_the_module_trains_and_evaluates_through_the_task(valence_task):
    module = valence_module({"scale": 0.5})
    assert not list(module.task_state.buffers())
    estimates = torch.tensor([0.2, -0.4])
    batch = {"valence": torch.tensor([0.0, 0.0])}
    # L1 of the scaled estimates: (0.1 + 0.2) / 2
    assert float(module.task.loss(module, estimates, batch)) == pytest.approx(0.15)
    evaluator = module.task.evaluator(module, None, "test")
    evaluator.reset()
    evaluator.process(module.task.stored(module, estimates, batch))
    assert evaluator.evaluate().summary == {"mae": pytest.approx(0.15)}


def test_predict_and_the_sidecar_follow_the_tasks_outputs(valence_task, tmp_path):
    module = valence_module()
    path = tmp_path / "valence.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": lightning.__version__,
        },
        path,
    )
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    rows = Detector.from_checkpoint(path, detector="none").predict([image])
    assert "valence_score" in rows.columns and "top_emotion" not in rows.columns
    assert not any(c.startswith(("p_", "i_", "emotion_")) for c in rows.columns)
    with torch.no_grad():
        expected = float(module(module_input(image)))
    assert rows["valence_score"].iloc[0] == pytest.approx(expected, abs=1e-5)
    sidecar = write_sidecar(tmp_path / "v.onnx", InferenceModel(module), module)
    outputs = json.loads(sidecar.read_text())["outputs"]
    assert outputs == {"valence": {"shape": ["batch", 1], "labels": ["score"], "meaning": MEANING}}


def module_input(image: np.ndarray) -> torch.Tensor:
    """The image as the detector feeds it: resized to 32 (it is), /255, mean 0.5, std 0.5."""
    tensor = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255
    return (tensor - 0.5) / 0.5
