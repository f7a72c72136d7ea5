"""albumentations pipelines for training and evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A  # noqa: N812
from albumentations.pytorch import ToTensorV2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalization(
    channels: int, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``mean`` and ``std`` for ``channels`` inputs (one channel: their averages).

    The defaults are ImageNet's; a backbone's own come from
    :func:`au.models.preprocessing.backbone_normalization`.
    """
    mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    if len(mean) == channels and len(std) == channels:
        return mean, std
    return (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels


def contrast_normalization() -> A.CLAHE:
    """CLAHE on the face crop (lightness only for RGB): evens out low and uneven light."""
    return A.CLAHE(clip_limit=(2.0, 2.0), tile_grid_size=(4, 4), p=1.0)


def eval_transform(
    image_size: int,
    channels: int = 3,
    clahe: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Deterministic preprocessing: [CLAHE,] resize, normalise, to a (C, H, W) float tensor.

    ``mean``/``std`` are the backbone's (:mod:`au.models.preprocessing`), ImageNet's by default.
    """
    mean, std = normalization(channels, mean, std)
    first = [contrast_normalization()] if clahe else []
    return A.Compose(
        [*first, A.Resize(image_size, image_size), A.Normalize(mean, std), ToTensorV2()]
    )


def train_transform(
    image_size: int,
    channels: int = 3,
    hflip: float = 0.5,
    affine: float = 0.7,
    rotate: float = 8.0,
    translate: float = 0.04,
    scale: Sequence[float] = (0.93, 1.07),
    color: float = 0.5,
    clahe: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Training augmentation: small affine jitter, horizontal flip, brightness/contrast.

    With ``clahe`` every crop is first contrast-normalised (:func:`contrast_normalization`),
    as :func:`eval_transform` does with it.

    A flip is safe for the bilateral AUs au detects by default; disable it (``hflip=0``) for
    unilateral AUs such as contempt's R14. ``mean``/``std`` as in :func:`eval_transform`.
    """
    mean, std = normalization(channels, mean, std)
    first = [contrast_normalization()] if clahe else []
    return A.Compose(
        [
            *first,
            A.Affine(
                scale=tuple(scale),
                translate_percent=(-translate, translate),
                rotate=(-rotate, rotate),
                border_mode=0,
                p=affine,
            ),
            A.Resize(image_size, image_size),
            A.HorizontalFlip(p=hflip),
            A.RandomBrightnessContrast(0.2, 0.2, p=color),
            A.Normalize(mean, std),
            ToTensorV2(),
        ]
    )
