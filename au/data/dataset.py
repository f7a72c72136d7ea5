"""A torch Dataset over index rows: image, AU labels, label mask, a task's further targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset


class ImageReadError(OSError):
    """Raised when an image file is missing or cannot be decoded."""


def read_image(path: Path, channels: int) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3) or grayscale (H, W, 1).

    Raises:
        ImageReadError: If the file is missing or not a decodable image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        reason = "missing" if not Path(path).exists() else "corrupt or not an image"
        raise ImageReadError(f"cannot read image {path}: {reason}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if channels == 1:
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return image[:, :, None]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class AUImageDataset(Dataset):
    """Face images with binary AU labels (A,) and masks (A,).

    Args:
        paths: Image files.
        labels: (N, A) binary labels.
        mask: (N, A), 1 where the label is coded.
        transform: An albumentations pipeline ending in ``ToTensorV2``.
        channels: 3 (RGB) or 1 (grayscale/thermal); images are converted to this.
        cache: Decode every image once and keep it in memory (small data sets).
        targets: A task's further per-sample targets by name, each (N, ...) (e.g.
            ``intensity`` (N, A), ``emotion`` (N,)); returned in every sample under its name.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        labels: np.ndarray,
        mask: np.ndarray,
        transform: Callable,
        channels: int = 3,
        cache: bool = False,
        targets: dict[str, np.ndarray] | None = None,
    ):
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {channels}")
        self.paths = list(paths)
        self.labels = torch.as_tensor(labels, dtype=torch.float32)
        self.mask = torch.as_tensor(mask, dtype=torch.float32)
        self.targets = {k: torch.as_tensor(v) for k, v in (targets or {}).items()}
        self.transform = transform
        self.channels = channels
        self._cache = [read_image(p, channels) for p in self.paths] if cache else None
        #: With a seed, a sample's augmentation depends only on (seed, epoch, index), so runs
        #: repeat exactly (also after a resume) whatever the number of workers.
        self.seed: int | None = None
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int) -> np.ndarray:
        """The decoded (untransformed) image of a row."""
        if self._cache is not None:
            return self._cache[index]
        return read_image(self.paths[index], self.channels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.seed is not None and hasattr(self.transform, "set_random_seed"):
            state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)
            self.transform.set_random_seed(int(state[0]))
        image = self.transform(image=self.image(index))["image"]  # (C, H, W)
        return {
            "image": image,
            "labels": self.labels[index],
            "mask": self.mask[index],
            "index": torch.tensor(index),
            **{name: values[index] for name, values in self.targets.items()},
        }
