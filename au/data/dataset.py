"""A torch Dataset over index rows: image, AU labels, label mask, a task's further targets.

:func:`read_image` is the one place au reads an image file (training, predict, prepare,
benchmarks): it reads the bytes and decodes them, so any file name the file system holds works
(OpenCV's own file reading crashes on names that are not valid UTF-8), and a JPEG or PNG cut
short is refused instead of decoding to grey.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from au.errors import ImageReadError, TruncatedImageError

_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
_JPEG_SCAN = 0xDA
#: JPEG markers without a length field (RSTn, TEM).
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def printable_path(path: str | os.PathLike) -> str:
    r"""``path`` as text that prints and writes anywhere: bytes that are not UTF-8 as ``\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def has_text_name(path: str | os.PathLike) -> bool:
    """Whether ``path`` is valid UTF-8 (so OpenCV, CSV and JSON outputs can name it)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def jpeg_complete(data: bytes) -> bool:
    """Whether a JPEG's bytes hold its end marker after its first scan (not cut short).

    The header segments are walked by their lengths (an EXIF thumbnail carries its own end
    marker); data after the end marker (camera trailers, padding) is allowed.
    """
    position = len(_JPEG_START)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return True  # not a marker: a malformed header is the decoder's to judge
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker in _JPEG_STANDALONE:
            position += 2
        elif marker == _JPEG_SCAN:
            return data.rfind(_JPEG_END, position) != -1
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False


def png_complete(data: bytes) -> bool:
    """Whether a PNG's chunks run whole up to its ``IEND`` chunk (not cut short)."""
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        if data[position + 4 : position + 8] == b"IEND":
            return True
        position += 12 + length  # length, type, data, CRC
    return False


def truncated(data: bytes) -> bool:
    """Whether ``data`` is a JPEG or PNG cut short (other formats: never)."""
    if data.startswith(_JPEG_START):
        return not jpeg_complete(data)
    if data.startswith(_PNG_SIGNATURE):
        return not png_complete(data)
    return False


def decode_image(path: str | os.PathLike, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file as OpenCV stores it (BGR, BGRA or gray), with ``cv2.imdecode`` flags.

    Raises:
        ImageReadError: Naming the file, if it is missing, cannot be opened, is a JPEG or PNG
            cut short, or does not decode.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise ImageReadError(f"cannot read image {printable_path(path)}: missing") from None
    except OSError as err:
        reason = err.strerror or err
        raise ImageReadError(f"cannot read image {printable_path(path)}: {reason}") from None
    if truncated(data):
        raise TruncatedImageError(
            f"cannot decode image {printable_path(path)}: truncated (the file is cut short)"
        )
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags) if data else None
    if image is None or image.size == 0:
        raise ImageReadError(f"cannot decode image {printable_path(path)}: corrupt or not an image")
    return image


def read_image(path: str | os.PathLike, channels: int | None = None) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3), grayscale (H, W, 1), or as stored.

    Args:
        path: The image file (any name the file system holds).
        channels: 3 (RGB) or 1 (grayscale) for a model input; ``None`` keeps the image as
            stored in OpenCV's order (BGR, BGRA or 2-D gray), for cropping and re-encoding
            with OpenCV (``au.prepare``); 16-bit images are scaled to uint8.

    Raises:
        ImageReadError: If the file is missing, cut short or not a decodable image.
    """
    image = decode_image(path, cv2.IMREAD_UNCHANGED)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if channels is None:
        return image
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
