"""Adding a task is one module and one YAML: a toy task registered here composes as
``task=toy``, passes the config check, builds by name and trains through the module's loss."""

import math

import pytest
import torch

from au.models.module import AULitModule
from au.run.config import compose_config
from au.run.config_checks import ConfigValueError, check_config_values
from au.tasks import registry
from au.tasks.au import AUTask
from au.tasks.registry import TASKS, build_task, register_task, registered_tasks


@pytest.fixture
def toy_task(monkeypatch):
    """``ToyTask`` (the "module"), registered as ``toy``; the registry restored afterwards."""
    monkeypatch.setattr(registry.TASKS, "_entries", registered_tasks())  # a copy, restored

    @register_task("toy")
    class ToyTask(AUTask):
        """AU occurrence with its loss scaled by ``loss_scale``."""

        def __init__(self, loss_scale: float = 1.0):
            if loss_scale <= 0:
                raise ValueError(f"task.loss_scale must be positive, got {loss_scale}")
            self.loss_scale = loss_scale

        def loss(self, module, outputs, batch):
            return self.loss_scale * super().loss(module, outputs, batch)

    return ToyTask


def toy_config(tmp_path, *overrides):
    """The fit config with ``configs/task/toy.yaml`` (the "YAML") on Hydra's search path."""
    (tmp_path / "task").mkdir(exist_ok=True)
    (tmp_path / "task" / "toy.yaml").write_text(
        "# @package _global_\ntask:\n  name: toy\n  loss_scale: 2.0\nexperiment_name: toy\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path}]"
    return compose_config("fit", [search, "task=toy", "paths.output_dir=x", *overrides])


def test_a_toy_task_is_one_module_and_one_yaml(toy_task, tmp_path):
    config = toy_config(tmp_path)
    check_config_values(config)  # no unknown key, no wrong type
    assert dict(config.task) == {"name": "toy", "loss_scale": 2.0}
    task = build_task(config.task)
    assert type(task) is toy_task and task.name == "toy" and task.loss_scale == 2.0
    assert TASKS["toy"] is toy_task and "toy" in TASKS and AUTask.name == "au"
    module = AULitModule(
        aus=["AU1", "AU2"],
        backbone={"name": "tiny", "pretrained": False},
        loss={"name": "bce"},
        task=dict(config.task),
    )
    # logits 0: BCE is ln 2 for every coded label, doubled by the toy task
    batch = {"labels": torch.tensor([[1.0, 0.0]]), "mask": torch.ones(1, 2)}
    loss = module.task.loss(module, torch.zeros(1, 2), batch)
    assert float(loss) == pytest.approx(2 * math.log(2))


def test_a_toy_task_option_error_is_a_config_error(toy_task):
    with pytest.raises(ConfigValueError, match="task=toy: task.loss_scale must be positive"):
        build_task({"name": "toy", "loss_scale": -1.0})
    with pytest.raises(ConfigValueError, match="task=toy: .*unexpected keyword argument 'scale'"):
        build_task({"name": "toy", "scale": 2.0})


def test_the_registry_holds_the_built_in_tasks_once():
    assert sorted(TASKS) == ["au", "emotion", "intensity", "joint"]  # the toy task was removed
    assert {name: cls.name for name, cls in registered_tasks().items()} == {
        name: name for name in TASKS
    }
    assert type(build_task(None)) is AUTask
    with pytest.raises(ValueError, match="task name 'au' is taken by AUTask"):
        register_task("au")(type("OtherTask", (AUTask,), {}))
