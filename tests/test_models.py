"""Backbones, head, weights loading/conversion and the two-stage schedule."""

import math
import time

import lightning as L  # noqa: N812
import pytest
import timm
import torch
import torchvision
from lightning.pytorch.callbacks import Callback
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from au.callbacks import TwoStageFineTuning
from au.callbacks.two_stage import stage2_lr_factor
from au.models.backbone import create_backbone
from au.models.module import AULitModule
from au.models.pretrained import (
    PretrainedWeightsError,
    WeightsSource,
    convert_torchvision_state_dict,
    install_torchvision_checkpoint,
    sha256_of,
)
from au.tasks.head import AUHead

AUS = ["AU1", "AU2", "AU4", "AU6", "AU9", "AU12", "AU25", "AU26"]
WIDTHS = {"mobilenet_v1": 1024, "mobilenet_v2": 1280, "densenet121": 1024, "densenet201": 1920}


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_paper_backbones_shapes_and_one_training_step(name):
    module = AULitModule(AUS, backbone={"name": name, "pretrained": False})
    assert module.backbone.num_features == WIDTHS[name]
    assert module.head.norm.num_features == WIDTHS[name]
    images, labels = torch.randn(2, 3, 64, 64), torch.randint(0, 2, (2, 8)).float()
    logits = module(images)
    assert logits.shape == (2, 8)
    loss = module.loss_fn(logits, labels)
    loss.backward()
    assert module.head.fc.weight.grad is not None and torch.isfinite(loss)


def test_any_timm_model_with_a_head_after_pooling_gets_the_right_width():
    # MobileNetV3's conv_head widens 288 pooled channels to 1024 after pooling
    module = AULitModule(AUS, backbone={"name": "mobilenetv3_small_050", "pretrained": False})
    assert module.backbone.num_features == 288 and module.head.norm.num_features == 1024
    assert module(torch.randn(2, 3, 64, 64)).shape == (2, 8)


def test_head_layers_in_paper_order():
    head = AUHead(16, 3, dropout=0.2)
    kinds = [type(m).__name__ for m in head.children()]
    assert kinds == ["BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert head.dropout.p == 0.2
    assert head(torch.randn(4, 16)).shape == (4, 3)
    with pytest.raises(ValueError, match="dropout"):
        AUHead(16, 3, dropout=1.5)


def test_single_channel_input_works():
    module = AULitModule(AUS, backbone={"name": "tiny", "pretrained": False, "in_chans": 1})
    assert module(torch.randn(2, 1, 48, 48)).shape == (2, 8)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backbone 'densenet122'"):
        create_backbone("densenet122", pretrained=False)


def test_local_weights_file_is_loaded(tmp_path):
    torch.manual_seed(3)
    reference = timm.create_model("test_efficientnet", num_classes=0)
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    loaded = create_backbone("tiny", weights=path)
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_missing_weights_file_names_the_path(tmp_path):
    with pytest.raises(PretrainedWeightsError, match="nothing.pth"):
        create_backbone("tiny", weights=tmp_path / "nothing.pth")


def test_offline_without_weights_fails_at_once_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("AU_WEIGHTS_DIR", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(PretrainedWeightsError, match="python -m au.weights") as error:
        create_backbone("mobilenet_v2", pretrained=True)
    assert "model.backbone.pretrained=false" in str(error.value)
    assert time.perf_counter() - started < 5


def _torchvision_checkpoint(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v2(weights=None).eval()
    for module in reference.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(reference.state_dict(), path)
    return reference, path


def test_mobilenetv2_conversion_gives_identical_outputs(tmp_path):
    reference, path = _torchvision_checkpoint(tmp_path)
    converted = convert_torchvision_state_dict(torch.load(path), "mobilenetv2_100")
    model = timm.create_model("mobilenetv2_100")
    model.load_state_dict(converted, strict=True)
    image = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(model.eval()(image), reference(image), atol=1e-5)


def test_installed_weights_are_checked_and_used_by_default(tmp_path, monkeypatch):
    reference, path = _torchvision_checkpoint(tmp_path)
    wrong = WeightsSource("mobilenetv2_100", "pkg", "m.pth", sha256="0" * 64)
    with pytest.raises(PretrainedWeightsError, match="sha256"):
        install_torchvision_checkpoint(path, wrong, tmp_path / "cache")
    source = WeightsSource("mobilenetv2_100", "pkg", "m.pth", sha256=sha256_of(path))
    install_torchvision_checkpoint(path, source, tmp_path / "cache")
    monkeypatch.setenv("AU_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backbone = create_backbone("mobilenet_v2", pretrained=True).eval()
    features = torch.nn.Sequential(reference.features, torch.nn.AdaptiveAvgPool2d(1))
    image = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(backbone(image), features(image).flatten(1), atol=1e-5)


class _Snapshots(Callback):
    """Records backbone weights, BatchNorm statistics, head weights and learning rates."""

    def __init__(self):
        self.states = []

    def _record(self, module, optimizer=None):
        bn = next(m for m in module.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
        lrs = {g["name"]: g["lr"] for g in optimizer.param_groups} if optimizer else {}
        self.states.append(
            dict(
                conv=module.backbone.conv_stem.weight.detach().clone(),
                bn_mean=bn.running_mean.clone(),
                bn_training=bn.training,
                head=module.head.fc.weight.detach().clone(),
                lrs=lrs,
            )
        )

    def on_train_epoch_start(self, trainer, module):
        self._record(module, trainer.optimizers[0])

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx == 0:
            self.states[-1]["bn_training_in_step"] = next(
                m for m in module.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)
            ).training

    def on_train_end(self, trainer, module):
        self._record(module, trainer.optimizers[0])


def _batches(n=32):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(n, 3, 32, 32, generator=generator)
    labels = (torch.rand(n, 8, generator=generator) > 0.5).float()
    return [
        {
            "image": images[i : i + 8],
            "labels": labels[i : i + 8],
            "mask": torch.ones(8, 8),
            "index": torch.arange(i, i + 8),
        }
        for i in range(0, n, 8)
    ]


def test_two_stage_schedule_freezes_then_fine_tunes_at_lower_lr():
    module = AULitModule(
        AUS,
        backbone={"name": "tiny", "pretrained": False},
        optimizer={"lr": 1e-2, "finetune_lr": 1e-4},
    )
    snapshots = _Snapshots()
    schedule = TwoStageFineTuning(stage1_max_epochs=1, patience=1, stage2_epochs=1)
    trainer = L.Trainer(
        max_epochs=schedule.total_epochs,
        callbacks=[snapshots, schedule],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=DataLoader(_batches(), batch_size=None))
    stage1, stage2, end = snapshots.states
    # stage 1: backbone weights and BatchNorm statistics untouched, head trained at lr 1e-2
    assert torch.equal(stage1["conv"], stage2["conv"])
    assert torch.equal(stage1["bn_mean"], stage2["bn_mean"])
    assert stage1["bn_training_in_step"] is False
    assert not torch.equal(stage1["head"], stage2["head"])
    assert stage1["lrs"] == {"head": 1e-2, "backbone": 1e-4}
    # stage 2: everything trains at the fine-tuning rate, BatchNorm statistics update
    assert stage2["bn_training_in_step"] is True
    assert stage2["lrs"] == {"head": 1e-4, "backbone": 1e-4}
    assert not torch.equal(stage2["conv"], end["conv"])
    assert not torch.equal(stage2["bn_mean"], end["bn_mean"])
    assert all(p.requires_grad for p in module.backbone.parameters())


class _StepRates(Callback):
    """The optimizer's rates as each training step sees them (after the schedule set them)."""

    def __init__(self):
        self.rates = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        groups = trainer.optimizers[0].param_groups
        self.rates.append((trainer.current_epoch, {g["name"]: g["lr"] for g in groups}))


def _step_rates(schedule: TwoStageFineTuning) -> list[tuple[int, dict]]:
    """(epoch, rates) of every step of a tiny model trained on 4 batches per epoch."""
    module = AULitModule(
        AUS,
        backbone={"name": "tiny", "pretrained": False},
        optimizer={"lr": 1e-2, "finetune_lr": 1e-4},
    )
    rates = _StepRates()
    trainer = L.Trainer(
        max_epochs=schedule.total_epochs,
        callbacks=[schedule, rates],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=DataLoader(_batches(), batch_size=None))
    return rates.rates


@pytest.mark.slow  # trains a tiny model
def test_stage2_cosine_decay_lowers_rates_along_a_half_cosine_each_step():
    schedule = TwoStageFineTuning(
        stage1_max_epochs=1,
        patience=1,
        stage2_epochs=2,
        head_finetune_lr=1e-3,
        stage2_lr_decay="cosine",
    )
    rates = _step_rates(schedule)
    stage1 = [r for epoch, r in rates if epoch == 0]
    stage2 = [r for epoch, r in rates if epoch > 0]
    assert stage1 == [{"head": 1e-2, "backbone": 1e-4}] * 4  # stage 1 untouched
    # 8 stage-2 steps at progress k/8: factor (1 + cos(pi k / 8)) / 2 = 1, 0.962, ..., 0.038
    factors = [(1 + math.cos(math.pi * k / 8)) / 2 for k in range(8)]
    assert [r["backbone"] for r in stage2] == pytest.approx([1e-4 * f for f in factors])
    assert [r["head"] for r in stage2] == pytest.approx([1e-3 * f for f in factors])
    assert stage2[4]["backbone"] == pytest.approx(0.5e-4)  # half way: half the rate


@pytest.mark.slow  # trains a tiny model
@pytest.mark.parametrize(
    ("stage1", "stage2_epochs", "min_steps", "stage2_steps"),
    [
        (1, 2, None, 8),  # 2 epochs of 4 batches
        (1, 2, 10, 12),  # 10 steps need ceil(10 / 4) = 3 epochs
        (1, 2, 5, 8),  # 5 steps fit in the 2 epochs
        (0, 1, 9, 12),  # starting in stage 2: ceil(9 / 4) = 3 epochs
    ],
)
def test_stage2_min_steps_lengthens_stage2_on_short_epochs(
    stage1, stage2_epochs, min_steps, stage2_steps
):
    schedule = TwoStageFineTuning(
        stage1_max_epochs=stage1,
        patience=1,
        stage2_epochs=stage2_epochs,
        stage2_min_steps=min_steps,
        stage2_lr_decay="cosine",
    )
    assert schedule.total_epochs == (-1 if min_steps else stage1 + stage2_epochs)
    stage2 = [r for epoch, r in _step_rates(schedule) if epoch >= stage1]
    assert len(stage2) == stage2_steps
    assert schedule.stage2_length == stage2_steps // 4
    # the cosine spans the lengthened stage: the last step's factor is that of (n - 1) / n
    last = (1 + math.cos(math.pi * (stage2_steps - 1) / stage2_steps)) / 2
    assert stage2[-1]["backbone"] == pytest.approx(1e-4 * last)
    with pytest.raises(ValueError, match="stage2_min_steps must be null or >= 1, got 0"):
        TwoStageFineTuning(stage2_min_steps=0)


def test_stage2_lr_factor_and_unknown_decay():
    assert [stage2_lr_factor(p) for p in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1, 0.5, 0, 0])
    with pytest.raises(ValueError, match="stage2_lr_decay must be one of none, cosine, got 'step'"):
        TwoStageFineTuning(stage2_lr_decay="step")
    with pytest.raises(ValueError, match="test_checkpoint must be one of best, last, got 'top'"):
        TwoStageFineTuning(test_checkpoint="top")


def test_unfreeze_last_blocks_only():
    module = AULitModule(AUS, backbone={"name": "tiny", "pretrained": False})
    module.freeze_backbone()
    module.unfreeze_backbone(last_blocks=1)
    trainable = {n for n, p in module.backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("blocks.4", "conv_head", "bn2")) for n in trainable)
    assert not module.backbone.conv_stem.weight.requires_grad
    with pytest.raises(ValueError, match="has 6 blocks"):
        module.unfreeze_backbone(last_blocks=9)
