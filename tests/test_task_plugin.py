"""A task is a whole plug-in: it owns its loss and decision state, and refuses keys it ignores."""

import lightning
import pytest
import torch

from au.errors import ConfigValueError
from au.models.module import AULitModule
from au.run.config_checks import check_config_values
from au.tasks.decision import AUDecision

from .conftest import compose_fit

AUS = ["AU1", "AU2", "AU4"]


def module_of(task: str, **options) -> AULitModule:
    return AULitModule(
        aus=AUS,
        backbone={"name": "test_efficientnet", "pretrained": False},
        data_config={"image_size": 32, "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3},
        task={"name": task},
        **options,
    )


@pytest.mark.parametrize(
    ("overrides", "section"),
    [
        (["task=emotion", "loss=pr"], "model.loss"),
        (["task=emotion", "experiment=lsep"], "model.loss"),
        (["task=intensity", "decision=frame_threshold"], "model.decision"),
        (["task=intensity", "model.decision.bootstrap=5"], "model.decision"),
    ],
)
def test_a_section_the_task_does_not_read_is_refused(overrides, section, tmp_path):
    config = compose_fit([*overrides, f"paths.output_dir={tmp_path}"])
    with pytest.raises(ConfigValueError) as caught:
        check_config_values(config)
    task = overrides[0].split("=")[1]
    assert str(caught.value) == (
        f"{section}: task={task} does not read it (its loss and decisions are its own); "
        f"drop the {section.split('.')[1]}= / {section}.* override"
    )


@pytest.mark.parametrize(
    "overrides",
    [["task=emotion"], ["task=intensity", "task.loss=ordinal"], ["task=joint", "loss=lsep"], []],
)
def test_the_sections_a_task_reads_pass(overrides, tmp_path):
    check_config_values(compose_fit([*overrides, f"paths.output_dir={tmp_path}"]))


def test_each_task_builds_its_own_loss_and_state():
    au = module_of("au", loss={"name": "lsep"}, decision={"name": "auto", "min_positives": 3})
    assert isinstance(au.task_state, AUDecision)
    assert (au.task_state.name, au.task_state.min_positives) == ("frame_threshold", 3)
    assert type(au.loss_fn).__name__ == "LSEPLoss"
    emotion = module_of("emotion")
    assert type(emotion.loss_fn).__name__ == "MaskedCrossEntropy"
    assert not list(emotion.task_state.buffers())  # no AU decision state in its checkpoint
    assert not any(k.startswith("task_state") for k in emotion.state_dict())
    intensity = module_of("intensity")
    assert type(intensity.loss_fn).__name__ == "IntensityMSELoss"


def test_a_checkpoint_from_before_the_task_kept_its_thresholds_loads(tmp_path):
    """Old checkpoints hold ``thresholds``/``tuned``/``frame_threshold.*`` on the module."""
    module = module_of("au")
    module.task_state.thresholds.copy_(torch.tensor([0.2, 0.4, 0.9]))
    module.task_state.tuned.copy_(torch.tensor([1.0, 0.0, 1.0]))
    state = {k.removeprefix("task_state."): v for k, v in module.state_dict().items()}
    assert "thresholds" in state and "frame_threshold.weight" in state
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "state_dict": state,
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": lightning.__version__,
        },
        path,
    )
    loaded = AULitModule.load_detector(path)
    assert loaded.task_state.thresholds.tolist() == pytest.approx([0.2, 0.4, 0.9])
    assert loaded.task_state.untuned(AUS) == ["AU2"]


def test_a_detector_reads_its_checkpoint_once(tmp_path, monkeypatch):
    """Weights, hyper-parameters and the recorded positive threshold come from one read."""
    from au.inference.detector import AUDetector
    from au.models import checkpoint as checkpoint_module

    module = module_of("intensity")
    path = tmp_path / "intensity.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "datamodule_hyper_parameters": {"data": {"positive_threshold": 3}},
            "pytorch-lightning_version": lightning.__version__,
        },
        path,
    )
    reads = []
    real_load = torch.load

    def counting_load(*args, **kwargs):
        reads.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "load", counting_load)
    detector = AUDetector.from_checkpoint(path)
    assert reads == [path]
    assert detector.occurrence_threshold == 3.0
