"""What a backbone expects of its input: normalisation from timm's own pretrained config.

Each timm model carries the mean and standard deviation its weights were trained with (ImageNet's
for most, 0.5 / 0.5 for MobileNet-v1 and Inception, CLIP's for CLIP towers). au reads them from
timm (:func:`backbone_normalization`), so training, the stage-1 feature cache, ``au.evaluate``,
``au.predict`` and the exported models normalise a face crop the way the backbone's weights
were trained, whatever the backbone. The checkpoint stores them in ``data_config``
(:func:`checkpoint_normalization` reads them back).

The crop size is au's, not timm's: faces are resized to ``data.image_size`` (the paper's
112 px) with no centre crop, since the crop is already the face.
"""

from __future__ import annotations

from collections.abc import Mapping

import timm

from au.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalization
from au.models.backbone import timm_name


def backbone_normalization(
    name: str, channels: int = 3
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std (one per input channel) a timm backbone's weights were trained with.

    Args:
        name: An au alias (``mobilenet_v2``) or any timm model name (with or without a
            ``.tag``).
        channels: Input channels: 3 (RGB) or 1 (grayscale/thermal: the mean of the three).

    Raises:
        ValueError: If ``name`` is no timm model, or ``channels`` is neither 1 nor 3.
    """
    if channels not in (1, 3):
        raise ValueError(f"data.channels must be 1 or 3, got {channels}")
    config = timm.get_pretrained_cfg(timm_name(name))  # timm's own default: ImageNet's
    mean = config.mean if config and config.mean else IMAGENET_MEAN
    std = config.std if config and config.std else IMAGENET_STD
    return normalization(channels, mean, std)


def checkpoint_normalization(
    data_config: Mapping | None, channels: int = 3
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std saved in a checkpoint's ``data_config``.

    Checkpoints written before au saved them were all normalised with ImageNet's statistics,
    which is what they get.
    """
    data_config = data_config or {}
    mean = data_config.get("mean", IMAGENET_MEAN)
    std = data_config.get("std", IMAGENET_STD)
    return normalization(channels, mean, std)
