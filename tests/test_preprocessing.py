"""Preprocessing is the backbone's: timm's mean/std in training, cache key and checkpoint."""

import numpy as np
import pytest
import torch

from au.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, normalization
from au.models.preprocessing import backbone_normalization, checkpoint_normalization
from au.run.builders import build_datamodule, build_module
from tests.conftest import compose_fit, small_fit_overrides


def test_backbone_statistics_come_from_timm():
    # MobileNet-v1's timm weights were trained on [-1, 1] inputs, MobileNet-v2's on ImageNet's.
    assert backbone_normalization("mobilenet_v1") == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert backbone_normalization("mobilenet_v2") == (IMAGENET_MEAN, IMAGENET_STD)
    clip = backbone_normalization("vit_base_patch16_clip_224.openai")
    assert clip[0] == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    # one channel: the mean of the three
    (mean,), (std,) = backbone_normalization("mobilenet_v2", channels=1)
    assert mean == pytest.approx((0.485 + 0.456 + 0.406) / 3)
    assert std == pytest.approx((0.229 + 0.224 + 0.225) / 3)


def test_bad_backbone_or_channels_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown backbone 'mobilenet_v9'"):
        backbone_normalization("mobilenet_v9")
    with pytest.raises(ValueError, match="channels must be 1 or 3, got 2"):
        backbone_normalization("mobilenet_v2", channels=2)


def test_old_checkpoints_without_statistics_read_as_imagenet():
    assert checkpoint_normalization({"image_size": 112}) == (IMAGENET_MEAN, IMAGENET_STD)
    saved = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    assert checkpoint_normalization(saved, channels=1) == ((0.5,), (0.5,))


def test_eval_transform_normalises_with_the_given_statistics():
    white = np.full((8, 8, 3), 255, np.uint8)
    mean, std = normalization(3, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    image = eval_transform(8, 3, mean=mean, std=std)(image=white)["image"]
    assert image.numpy() == pytest.approx(np.ones((3, 8, 8)))  # (1 - 0.5) / 0.5
    imagenet = eval_transform(8, 3)(image=white)["image"]
    expected = (1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    assert imagenet[:, 0, 0].numpy() == pytest.approx(expected, rel=1e-5)


def test_fit_uses_and_saves_the_backbone_statistics(small_synthetic, tmp_path):
    overrides = small_fit_overrides(tmp_path, "backbone=mobilenet_v1")
    overrides += ["model.backbone.pretrained=false"]
    config = compose_fit(overrides)
    datamodule = build_datamodule(config)
    assert (datamodule.mean, datamodule.std) == ((0.5,) * 3, (0.5,) * 3)
    sample = datamodule.eval_view("val")[0]["image"]
    key = datamodule.preprocessing_key()
    assert "norm=0.5,0.5,0.5,0.5,0.5,0.5" in key
    module = build_module(config, datamodule)
    assert module.hparams.data_config["mean"] == [0.5, 0.5, 0.5]
    assert module.hparams.data_config["std"] == [0.5, 0.5, 0.5]
    imagenet = build_datamodule(compose_fit(small_fit_overrides(tmp_path)))
    assert imagenet.preprocessing_key() != key  # the feature cache tells them apart
    # the same crop under both: x = (p - 0.5) / 0.5 and y = (p - m) / s, so p = (x + 1) / 2
    same = imagenet.eval_view("val")[0]["image"].numpy()
    pixels = (sample.numpy() + 1) / 2
    mean, std = (np.array(v).reshape(3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    assert same == pytest.approx((pixels - mean) / std, abs=1e-4)


def test_predict_normalises_with_the_checkpoint_statistics():
    from au.inference.detector import AUDetector
    from au.models.module import AULitModule

    half = [0.5, 0.5, 0.5]
    module = AULitModule(
        aus=["AU1", "AU12"],
        backbone={"name": "mobilenet_v1", "pretrained": False},
        data_config={"image_size": 32, "channels": 3, "mean": half, "std": half},
    )
    white = np.full((40, 40, 3), 255, np.uint8)
    assert AUDetector(module).preprocess([white]).numpy() == pytest.approx(1.0)  # (1-0.5)/0.5
    module.hparams.data_config = {"image_size": 32, "channels": 3}  # a file from before
    imagenet = AUDetector(module).preprocess([white])[0, :, 0, 0].numpy()
    assert imagenet == pytest.approx((1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD))


def test_style_randomization_changes_how_a_face_was_recorded_at_its_rate():
    """Strength 0 is the plain pipeline; at 1 every crop is re-recorded (the tone step always
    runs), and an RGB crop turns gray at a third of the rate; outside [0, 1] is refused."""
    from au.data.transforms import style_randomization, train_transform

    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    still = dict(hflip=0.0, affine=0.0, color=0.0, mean=[0.5] * 3, std=[0.5] * 3)
    plain = train_transform(48, 3, **still)(image=image)["image"]
    assert torch.equal(train_transform(48, 3, style=0.0, **still)(image=image)["image"], plain)
    styled = train_transform(48, 3, style=1.0, **still)
    outputs = [styled(image=image)["image"] for _ in range(150)]
    assert all(not torch.equal(out, plain) for out in outputs)
    gray = np.mean([bool(torch.equal(out[0], out[1]) and torch.equal(out[1], out[2]))
                    for out in outputs])  # fmt: skip
    assert 0.2 < gray < 0.47  # 1/3 expected; 150 draws: sd 0.04
    assert len(style_randomization(0.5, channels=1)) == 3  # no grayscale step for gray input
    with pytest.raises(ValueError, match=r"augment.style must be in \[0, 1\], got 1.5"):
        style_randomization(1.5)
