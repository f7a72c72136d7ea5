"""Configs reject mistakes: unknown keys (also from YAML files) and wrong choices fail with one
line each; every shipped config passes; the head's stage-2 learning rate key does what it says."""

from types import SimpleNamespace

import pytest

from au.callbacks.two_stage import TwoStageFineTuning
from au.models.module import AULitModule
from au.run.config import CONFIG_DIR, compose_config
from au.run.config_checks import ConfigValueError, check_config_values

GROUPS = ("data", "backbone", "loss", "experiment", "schedule", "decision", "trainer", "ablation")
#: Overrides a group option needs to compose (a mandatory key).
NEEDS = {"timm": ["model.backbone.name=resnet18"], "index": ["data.index_csv=x"]}


def compose_fit(*overrides):
    return compose_config("fit", ["paths.output_dir=x", *overrides])


def problems_of(config) -> list[str]:
    with pytest.raises(ConfigValueError) as caught:
        check_config_values(config)
    return str(caught.value).splitlines()


def test_misspelled_keys_in_a_yaml_file_are_named(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "typo.yaml").write_text(
        "# @package _global_\n"
        "schedule: {stage1_max_epoch: 3}\n"
        "data: {bach_size: 8, synthetic: {num_subject: 4}}\n"
        "model: {loss: {gama: 1.0}, optimizer: {name: adamx}}\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path}]"
    config = compose_fit(search, "experiment=typo", "loss=focal")
    assert problems_of(config) == [
        "data.bach_size: unknown key (did you mean batch_size?)",
        "data.synthetic.num_subject: unknown key (did you mean num_subjects?)",
        "schedule.stage1_max_epoch: unknown key (did you mean stage1_max_epochs?)",
        "model.loss.gama: unknown key (did you mean gamma?)",
        "model.optimizer.name='adamx': expected one of adam, adamw, sgd",
    ]


def test_moved_and_builder_owned_keys_say_so():
    assert problems_of(compose_fit("+model.optimizer.head_finetune_lr=0.1")) == [
        "model.optimizer.head_finetune_lr: unknown key (moved to schedule.head_finetune_lr)"
    ]
    assert problems_of(compose_fit("+trainer.max_epochs=3")) == [
        "trainer.max_epochs: set by au itself, not by the config (e.g. max_epochs from the "
        "schedule)"
    ]
    assert problems_of(compose_fit("+model.head.dropout_rate=0.1", "data.batch_size=x")) == [
        "model.head.dropout_rate: unknown key (did you mean dropout?)",
        "data.batch_size='x': expected an integer",
    ]


def test_a_schedule_choice_outside_its_options_is_named():
    """Choices typed as ``Literal`` in the receiving code are checked before any work."""
    overrides = (
        "schedule.test_checkpoint=top",
        "schedule.stage2_lr_decay=step",
        "schedule.mode=up",
    )
    assert problems_of(compose_fit(*overrides)) == [
        "schedule.stage2_lr_decay='step': expected one of none, cosine",
        "schedule.mode='up': expected one of max, min",
        "schedule.test_checkpoint='top': expected one of best, last",
    ]
    check_config_values(compose_fit("schedule.test_checkpoint=last", "schedule.mode=min"))


def test_an_optimizers_own_arguments_are_accepted():
    check_config_values(compose_fit("model.optimizer.name=sgd", "+model.optimizer.momentum=0.9"))
    (line,) = problems_of(compose_fit("+model.optimizer.momentum=0.9"))  # Adam has none
    assert line.startswith("model.optimizer.momentum: unknown key (accepted: ")
    assert all(key in line for key in ("betas", "finetune_lr", "lr", "name", "weight_decay"))


@pytest.mark.parametrize(
    "option",
    [f"{g}={p.stem}" for g in GROUPS for p in sorted((CONFIG_DIR / g).glob("*.yaml"))],
)
def test_every_shipped_config_passes(option):
    check_config_values(compose_fit(option, *NEEDS.get(option.split("=")[1], [])))


def test_schedule_head_finetune_lr_sets_the_heads_stage2_rate():
    module = AULitModule(
        aus=["AU1", "AU2"],
        backbone={"name": "tiny", "pretrained": False},
        optimizer={"lr": 1e-2, "finetune_lr": 1e-4},
    )
    optimizer = module.configure_optimizers()
    trainer = SimpleNamespace(optimizers=[optimizer], datamodule=None, should_stop=False)
    module.print = lambda *args, **kwargs: None  # no Trainer attached
    TwoStageFineTuning(stage2_epochs=2, head_finetune_lr=3e-3)._start_stage2(trainer, module, 1)
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    assert rates == {"head": 3e-3, "backbone": 1e-4}
    optimizer = module.configure_optimizers()
    trainer.optimizers = [optimizer]
    TwoStageFineTuning(stage2_epochs=2)._start_stage2(trainer, module, 1)  # null: the backbone's
    assert {group["lr"] for group in optimizer.param_groups} == {1e-4}


def test_task_options_are_checked_by_the_tasks_constructor():
    assert problems_of(compose_fit("task=joint", "+task.emotion_weigth=1")) == [
        "task.emotion_weigth: unknown key (did you mean emotion_weight?)"
    ]
    assert problems_of(compose_fit("task.name=toy")) == [
        "task.name='toy': expected one of au, emotion, intensity, joint"
    ]


#: Wrong types a lax check would let through (OmegaConf's structured configs convert '8' to 8,
#: 1 to true and 5 to '5', while the code still gets the unconverted value): the schemas are
#: strict. ``data.synthetic`` is typed by SyntheticConfig.
WRONG_TYPES = {
    "data.synthetic.num_subjects=abc": "data.synthetic.num_subjects='abc': expected an integer",
    "+data.synthetic.jpeg_quality=high": "data.synthetic.jpeg_quality='high': expected an integer",
    "data.batch_size='8'": "data.batch_size='8': expected an integer",
    "schedule.train_bn=1": "schedule.train_bn=1: expected true or false",
    "data.name=5": "data.name=5: expected a string",
    "model.backbone.weights=3": "model.backbone.weights=3: expected a string or null",
}


@pytest.mark.parametrize(("override", "line"), WRONG_TYPES.items())
def test_a_value_of_another_type_is_not_converted_but_named(override, line):
    assert problems_of(compose_fit(override)) == [line]


def test_trainer_values_are_typed_by_lightnings_signature():
    assert problems_of(compose_fit("trainer.precision=17", "trainer.deterministic=3")) == [
        "trainer.precision=17: expected one of 64, 32, 16, transformer-engine, "
        "transformer-engine-float16, 16-true, 16-mixed, bf16-true, bf16-mixed, 32-true, "
        "64-true, bf16 or null",
        "trainer.deterministic=3: expected true or false or one of warn or null",
    ]
