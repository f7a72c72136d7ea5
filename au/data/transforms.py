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
    style: float = 0.0,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Training augmentation: small affine jitter, horizontal flip, brightness/contrast.

    ``style`` (0-1) adds camera and rendering-style randomization (:func:`style_randomization`):
    each of its steps runs with probability ``style``, so a model sees the same face at other
    resolutions, compressions, noise levels, tone curves and (RGB) as grayscale.

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
            *(style_randomization(style, channels) if style > 0 else []),
            A.HorizontalFlip(p=hflip),
            A.RandomBrightnessContrast(0.2, 0.2, p=color),
            A.Normalize(mean, std),
            ToTensorV2(),
        ]
    )


def style_randomization(strength: float, channels: int = 3) -> list[A.BasicTransform]:
    """Steps that change how a face was recorded, not the face: each runs with ``strength``.

    A source's resolution (downscaled to 25-70 % and back) or its compression (JPEG quality
    20-80) or its focus (Gaussian blur); its sensor noise (Gaussian, or ISO noise on RGB); its
    tone curve (gamma 0.6-1.6 and a random tone curve); on RGB, grayscale at a third of the
    rate. Used against the gap between rendered training faces and real ones.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"augment.style must be in [0, 1], got {strength}")
    noise = [A.GaussNoise(std_range=(0.01, 0.06), p=1.0)]
    if channels == 3:
        noise.append(A.ISONoise(color_shift=(0.01, 0.04), intensity=(0.1, 0.4), p=1.0))
    steps = [
        A.OneOf(
            [
                A.Downscale(scale_range=(0.25, 0.7), p=1.0),
                A.ImageCompression(quality_range=(20, 80), p=1.0),
                A.GaussianBlur(sigma_limit=(0.5, 1.5), p=1.0),
            ],
            p=strength,
        ),
        A.OneOf(noise, p=strength),
        A.OneOf(
            [A.RandomGamma(gamma_limit=(60, 160), p=1.0), A.RandomToneCurve(scale=0.2, p=1.0)],
            p=strength,
        ),
    ]
    if channels == 3:
        steps.append(A.ToGray(num_output_channels=3, p=strength / 3))
    return steps
