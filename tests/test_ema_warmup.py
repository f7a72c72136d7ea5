"""The EMA's warm-up and its restart at stage 2, computed by hand."""

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from au.callbacks.weight_averaging import AveragedWeights, warmup_decay, warmup_ema_avg_fn


def test_warmup_decay_follows_one_plus_n_over_ten_plus_n_up_to_the_decay():
    assert warmup_decay(0.99, 1) == pytest.approx(2 / 11)
    assert warmup_decay(0.99, 8) == pytest.approx(9 / 18)
    assert warmup_decay(0.99, 890) == pytest.approx(0.99)  # 891/900 = 0.99
    assert warmup_decay(0.9, 1000) == 0.9


def test_average_of_a_short_run_follows_its_recent_weights():
    """Weights 0, 1, 2, 3 (one scalar): with warm-up the average after 4 updates is
    a1 = 0; a2 = 0 + (1 - 0)(1 - 2/11) = 9/11; a3 = a2 + (2 - a2)(1 - 3/12);
    a4 = a3 + (3 - a3)(1 - 4/13). Without warm-up (decay 0.99) it stays near 0."""
    layer = nn.Linear(1, 1, bias=False)
    average = AveragedModel(layer, avg_fn=warmup_ema_avg_fn(0.99), use_buffers=True)
    for value in range(4):
        layer.weight.data.fill_(float(value))
        average.update_parameters(layer)
    a2 = 9 / 11
    a3 = a2 + (2 - a2) * (1 - 3 / 12)
    a4 = a3 + (3 - a3) * (1 - 4 / 13)
    assert float(average.module.weight.detach()) == pytest.approx(a4, rel=1e-6)
    assert a4 > 2.0


class _Stage:
    def __init__(self, stage):
        self.stage, self.stage2_start_epoch = stage, 3


class _Trainer:
    def __init__(self, stage):
        self.callbacks = [_Stage(stage)]


def test_average_restarts_from_the_current_weights_when_stage_two_begins():
    callback = AveragedWeights(0.99)
    module = nn.Linear(1, 1, bias=False)
    callback._average_model = AveragedModel(module, avg_fn=warmup_ema_avg_fn(0.99))
    module.weight.data.fill_(1.0)
    callback._average_model.update_parameters(module)
    callback._average_model.update_parameters(module)
    callback.on_train_epoch_start(_Trainer(1), module)
    assert int(callback._average_model.n_averaged) == 2  # stage 1 goes on: nothing restarts
    callback.on_train_epoch_start(_Trainer(2), module)
    assert int(callback._average_model.n_averaged) == 0  # stage 2 begins: restart
    module.weight.data.fill_(5.0)
    callback._average_model.update_parameters(module)
    assert (
        float(callback._average_model.module.weight.detach()) == 5.0
    )  # copied, not averaged with 1
    callback.on_train_epoch_start(_Trainer(2), module)
    assert int(callback._average_model.n_averaged) == 1  # later stage-2 epochs keep averaging
    assert callback.state_dict()["averaged_stage"] == 2


def test_without_warmup_the_decay_is_constant_from_the_first_update():
    callback = AveragedWeights(0.5, warmup=False)
    module = nn.Linear(1, 1, bias=False)
    average = AveragedModel(module, **callback._kwargs)
    for value in (0.0, 4.0):
        module.weight.data.fill_(value)
        average.update_parameters(module)
    assert float(average.module.weight.detach()) == pytest.approx(2.0)
    assert torch.is_tensor(average.n_averaged)
