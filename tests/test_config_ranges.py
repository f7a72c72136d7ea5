"""Numeric config values are range-checked with their types, before any work: one line per bad
key (``model.optimizer.lr=-0.1: expected a number > 0``), exit status 2; new keys are picked up
by name; keys reaching a loss only through ``**kwargs`` or without a type hint are checked too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from au import crossval, evaluate, export, predict
from au.losses import registry
from au.losses.focal import FocalLoss
from au.losses.registry import register_loss, registered_losses
from au.run.config import compose_config
from au.run.config_checks import ConfigValueError, check_config_values
from au.run.config_ranges import (
    AT_LEAST_ONE,
    BELOW_ONE,
    COUNT,
    NON_NEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    UNIT,
    Range,
    range_of,
)
from au.run.folder import bad_input_stops_run


def compose_fit(*overrides):
    return compose_config("fit", ["paths.output_dir=x", *overrides])


def problems_of(*overrides) -> list[str]:
    with pytest.raises(ConfigValueError) as caught:
        check_config_values(compose_fit(*overrides))
    return str(caught.value).splitlines()


#: ``[group option ]key=value`` -> what the one line says was expected.
OUT_OF_RANGE = {
    "model.optimizer.lr=-0.1": "a number > 0",
    "model.optimizer.finetune_lr=0": "a number > 0",
    "data.batch_size=-4": "an integer >= 1",
    "data.image_size=0": "an integer >= 16",
    "schedule.ema_decay=1.5": "a number in (0, 1) or null",
    "schedule.ema_decay=0": "a number in (0, 1) or null",
    "data.val_fraction=1.2": "a number in [0, 1]",
    "model.head.dropout=1.5": "a number in [0, 1)",
    "schedule.stage2_epochs=-1": "an integer >= 0",
    "schedule.stage1_max_epochs=-2": "an integer >= 0",
    "schedule.patience=0": "an integer >= 1",
    "schedule.head_finetune_lr=-1": "a number > 0 or null",
    "schedule.unfreeze_last_blocks=0": "an integer >= 1 or null",
    "schedule.stage2_min_steps=0": "an integer >= 1 or null",
    "data.num_workers=-1": "an integer >= 0",
    "data.eval_batch_size=0": "an integer >= 1 or null",
    "data.fold=0": "an integer >= 1 or null",
    "data.num_folds=1": "an integer >= 2",
    "data.positive_threshold=0": "a number > 0 or null",
    "data.channels=4": "an integer in [1, 3]",
    "data.split_seed=-1": "an integer >= 0",
    "seed=-1": "an integer >= 0",
    "data.synthetic.num_subjects=0": "an integer >= 1",
    "model.backbone.drop_rate=1": "a number in [0, 1)",
    "model.optimizer.weight_decay=-1": "a number >= 0",
    "model.decision.min_positives=-1": "an integer >= 0",
    "model.decision.bootstrap=-5": "an integer >= 0",
    "model.decision.shrink_positives=-1": "a number >= 0",
    "loss=focal model.loss.alpha=1.5": "a number in [0, 1] or null",
    "loss=focal model.loss.gamma=-1": "a number >= 0",
    "loss=asl model.loss.clip=1": "a number in [0, 1)",
    "loss=weighted_bce model.loss.max_weight=0": "a number > 0",
    "task=intensity task.beta=0": "a number > 0",
    "task=joint task.emotion_weight=-1": "a number >= 0",
    "task=emotion task.label_smoothing=1": "a number in [0, 1)",
    "trainer.limit_train_batches=-0.5": "a number >= 0 or null",
    "trainer.log_every_n_steps=0": "an integer >= 1 or null",
    "trainer.gradient_clip_val=-1": "a number >= 0 or null",
    "model.optimizer.name=sgd +model.optimizer.momentum=1": "a number in [0, 1)",
}


@pytest.mark.parametrize(("overrides", "expected"), OUT_OF_RANGE.items())
def test_a_value_out_of_range_is_one_line(overrides, expected):
    *_, bad = overrides.split()
    assert problems_of(*overrides.split()) == [f"{bad.lstrip('+')}: expected {expected}"]


def test_a_wrong_type_or_list_element_is_one_line():
    assert problems_of("model.head.dropout=abc") == ["model.head.dropout='abc': expected a number"]
    assert problems_of("+model.optimizer.betas=[0.9,1.2]") == [
        "model.optimizer.betas=[0.9, 1.2]: expected a list of numbers in [0, 1)"
    ]


def test_every_bad_key_is_listed_in_config_order():
    overrides = ("model.optimizer.lr=-0.1", "data.batch_size=-4", "schedule.ema_decay=1.5")
    assert problems_of(*overrides) == [
        "data.batch_size=-4: expected an integer >= 1",
        "model.optimizer.lr=-0.1: expected a number > 0",
        "schedule.ema_decay=1.5: expected a number in (0, 1) or null",
    ]


def test_the_edges_of_each_range_pass():
    check_config_values(
        compose_fit(
            "schedule.ema_decay=null",
            "data.val_fraction=0",
            "model.head.dropout=0",
            "schedule.stage2_epochs=0",
            "data.image_size=16",
            "data.num_workers=0",
            "data.fold=null",
            "trainer.devices=-1",
            "trainer.num_sanity_val_steps=-1",
            "model.decision.bootstrap=0",
        )
    )
    check_config_values(compose_fit("data.val_fraction=1", "schedule.ema_decay=0.999"))


def test_a_bad_value_exits_2_with_one_error_line_before_any_work(capsys):
    ran = []
    with (
        pytest.raises(SystemExit) as stopped,
        bad_input_stops_run(compose_fit("data.batch_size=-4")),
    ):
        ran.append(True)
    assert stopped.value.code == 2 and ran == []
    assert capsys.readouterr().err == "error: data.batch_size=-4: expected an integer >= 1\n"


def test_several_bad_values_each_get_their_error_line(capsys):
    with (
        pytest.raises(SystemExit),
        bad_input_stops_run(compose_fit("data.batch_size=-4", "model.optimizer.lr=-0.1")),
    ):
        pass
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "error: model.optimizer.lr=-0.1: expected a number > 0" in lines


def command_problems(command: str, keys, *overrides) -> list[str]:
    with pytest.raises(ConfigValueError) as caught:
        check_config_values(compose_config(command, list(overrides)), keys)
    return str(caught.value).splitlines()


def test_other_commands_keys_are_range_checked():
    overrides = ("smoothing=0", "every=0", "max_frames=0", "threads=0")
    assert command_problems("predict", predict.CONFIG_KEYS, *overrides) == [
        "threads=0: expected an integer >= 1 or null",
        "smoothing=0: expected a number in (0, 1]",
        "every=0: expected an integer >= 1",
        "max_frames=0: expected an integer >= 1 or null",
    ]


def test_each_commands_own_choices_and_switches_are_typed():
    """Before, ``detector=nope`` stopped au.predict with a traceback after the checkpoint was
    read, and ``align=maybe`` ran as ``align=true``."""
    overrides = ("detector=nope", "align=maybe", "runtime=tf", "show=sometimes")
    assert command_problems("predict", predict.CONFIG_KEYS, *overrides) == [
        "runtime='tf': expected one of torch, onnx",
        "detector='nope': expected one of mtcnn, blazeface, haar, none",
        "align='maybe': expected true or false",
        "show='sometimes': expected true or false or one of auto",
    ]
    assert command_problems("predict", predict.CONFIG_KEYS, "+mtcnn.min_fase=40") == [
        "mtcnn.min_fase: unknown key (did you mean min_face?)"
    ]
    assert command_problems("evaluate", evaluate.CONFIG_KEYS, "ckpt_path=x", "split=train") == [
        "split='train': expected one of test, val"
    ]
    assert command_problems("export", export.CONFIG_KEYS, "ckpt_path=x", "format=zip") == [
        "format='zip': expected one of onnx, torchscript, both"
    ]
    assert command_problems("crossval", crossval.CONFIG_KEYS, "folds=[0,2]", "test=yes") == [
        "test='yes': expected true or false",
        "folds=[0, 2]: expected a list of integers >= 1",
    ]
    check_config_values(
        compose_config("predict", ["detector=haar", "show=auto"]), predict.CONFIG_KEYS
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("schedule.ema_warmup_epochs", COUNT),
        ("schedule.ema_horizon_epochs", COUNT),
        ("schedule.head_lr", POSITIVE),
        ("model.optimizer.lr", POSITIVE),
        ("data.holdout_fraction", UNIT),
        ("schedule.ema_decay", OPEN_UNIT),
        ("model.optimizer.weight_decay", NON_NEGATIVE),
        ("model.head.attention_dropout", BELOW_ONE),
        ("model.decision.threshold", UNIT),
        ("model.decision.shrink_positives", NON_NEGATIVE),
        ("data.positive_threshold", POSITIVE),
        ("trainer.num_nodes", AT_LEAST_ONE),
        ("data.monitor", None),
    ],
)
def test_new_keys_get_a_range_by_their_name(key, expected):
    assert range_of(key) == expected


def test_ranges_describe_themselves():
    assert [r.describe() for r in (POSITIVE, COUNT, UNIT, OPEN_UNIT, BELOW_ONE)] == [
        "> 0",
        ">= 0",
        "in [0, 1]",
        "in (0, 1)",
        "in [0, 1)",
    ]
    assert Range(high=5, high_open=True).describe() == "< 5"
    assert 0.5 in OPEN_UNIT and 1 not in OPEN_UNIT and 0 not in OPEN_UNIT and 1 in UNIT


# ---- keys a loss takes through **kwargs or without a type hint ---------------------------
@pytest.fixture
def toy_losses(monkeypatch):
    """Toy losses registered for one test (the registry restored afterwards)."""
    monkeypatch.setattr(registry.LOSSES, "_entries", registered_losses())  # a copy, restored

    @register_loss("toy_typed")
    class TypedLoss(nn.Module):
        def __init__(self, scale: float = 1.0):
            super().__init__()
            self.scale = scale

    @register_loss("toy_untyped")
    class UntypedLoss(nn.Module):
        def __init__(self, scale=1.0):  # no type hint: its default's type
            super().__init__()
            self.scale = scale

    @register_loss("toy_options")
    class OptionsLoss(nn.Module):
        def __init__(self, **options):  # reads its options itself: any key, typed by name
            super().__init__()
            self.scale = options.get("scale", 1.0)

    @register_loss("toy_focal")
    class ScaledFocalLoss(FocalLoss):
        def __init__(self, weight: float = 1.0, **kwargs):  # the rest is FocalLoss's
            super().__init__(**kwargs)
            self.weight = weight

    return TypedLoss, UntypedLoss, OptionsLoss, ScaledFocalLoss


def test_a_loss_argument_is_typed_by_its_hint(toy_losses):
    """Before, ``model.loss`` keys were only checked to exist: ``scale=abc`` reached training."""
    assert problems_of("model.loss.name=toy_typed", "+model.loss.scale=abc") == [
        "model.loss.scale='abc': expected a number"
    ]
    assert problems_of("model.loss.name=toy_typed", "+model.loss.scale=-2") == [
        "model.loss.scale=-2: expected a number > 0"
    ]


def test_an_untyped_loss_argument_takes_its_defaults_type(toy_losses):
    assert problems_of("model.loss.name=toy_untyped", "+model.loss.scale=abc") == [
        "model.loss.scale='abc': expected a number"
    ]
    assert problems_of("model.loss.name=toy_untyped", "+model.loss.scale=0") == [
        "model.loss.scale=0: expected a number > 0"
    ]
    check_config_values(compose_fit("model.loss.name=toy_untyped", "+model.loss.scale=2"))


def test_options_read_through_kwargs_are_typed_by_name(toy_losses):
    assert problems_of("model.loss.name=toy_options", "+model.loss.scale=abc") == [
        "model.loss.scale='abc': expected a number"
    ]
    assert problems_of("model.loss.name=toy_options", "+model.loss.scale=-1") == [
        "model.loss.scale=-1: expected a number > 0"
    ]
    check_config_values(compose_fit("model.loss.name=toy_options", "+model.loss.anything=x"))


def test_kwargs_passed_to_the_parent_loss_take_the_parents_keys(toy_losses):
    overrides = ("model.loss.name=toy_focal", "+model.loss.gamma=abc", "+model.loss.alfa=0.3")
    assert problems_of(*overrides) == [
        "model.loss.alfa: unknown key (did you mean alpha?)",
        "model.loss.gamma='abc': expected a number",
    ]
    assert problems_of("model.loss.name=toy_focal", "+model.loss.weight=-1") == [
        "model.loss.weight=-1: expected a number >= 0"
    ]
    loss = registered_losses()["toy_focal"](weight=2.0, gamma=1.0)
    assert (loss.weight, loss.gamma) == (2.0, 1.0)


def test_a_loss_without_a_constructor_of_its_own_takes_no_key():
    """LSEP inherits ``nn.Module.__init__(*args, **kwargs)``, which takes no keyword."""
    assert problems_of("loss=lsep", "+model.loss.scale=abc", "+model.loss.kwargs=1") == [
        "model.loss.scale: unknown key (accepted: name)",
        "model.loss.kwargs: unknown key (accepted: name)",
    ]


@pytest.mark.slow
def test_cli_negative_learning_rate_exits_2_before_any_work(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    command = [sys.executable, "-m", "au.fit", "model.optimizer.lr=-0.1"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == "error: model.optimizer.lr=-0.1: expected a number > 0"
    assert list(tmp_path.iterdir()) == []  # no run folder left behind
