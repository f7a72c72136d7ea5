"""Backbone features computed once for stage 1, when the backbone is frozen.

With a frozen backbone (weights and BatchNorm statistics) and deterministic preprocessing, a
sample's features never change during stage 1, so the head can be trained on features computed
once. They are cached on disk under a key made of the backbone's weights, the preprocessing
and the images, so any change to one of them computes them again. Each file records its row
count and a checksum; a file that fails either (or cannot be read) is computed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from au.data.dataset import AUImageDataset

log = logging.getLogger(__name__)


class FeatureDataset(Dataset):
    """Pre-computed features (N, F) with the labels, masks and targets of their image dataset."""

    def __init__(self, features: torch.Tensor, source: AUImageDataset):
        self.features, self.labels, self.mask = features, source.labels, source.mask
        self.targets = getattr(source, "targets", {})

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "features": self.features[index],
            "labels": self.labels[index],
            "mask": self.mask[index],
            "index": torch.tensor(index),
            **{name: values[index] for name, values in self.targets.items()},
        }


def feature_cache_key(backbone: nn.Module, dataset: AUImageDataset, preprocessing: str) -> str:
    """Hash of the backbone's parameters and buffers, the preprocessing and the image files."""
    digest = hashlib.sha256(preprocessing.encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for path in dataset.paths:
        stat = Path(path).stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


@torch.no_grad()
def compute_features(
    backbone: nn.Module, dataset: AUImageDataset, batch_size: int = 128, desc: str = "features"
) -> torch.Tensor:
    """Run the (frozen, eval-mode) backbone over a dataset; returns (N, F) on the CPU."""
    was_training = backbone.training
    backbone.eval()
    device = next(backbone.parameters()).device
    memory_format = (
        torch.channels_last
        if next(backbone.parameters()).is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )
    outputs = []
    for batch in tqdm(DataLoader(dataset, batch_size=batch_size), desc=desc, leave=False):
        images = batch["image"].to(device).contiguous(memory_format=memory_format)
        outputs.append(backbone(images).float().cpu())
    backbone.train(was_training)
    return torch.cat(outputs)


def features_sha256(features: torch.Tensor) -> str:
    """SHA-256 of a feature matrix's shape, dtype and bytes."""
    digest = hashlib.sha256(f"{tuple(features.shape)}:{features.dtype}".encode())
    digest.update(features.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def read_feature_cache(path: Path, rows: int) -> tuple[torch.Tensor | None, str]:
    """The features cached in ``path`` if the file holds ``rows`` intact rows.

    Returns:
        The features (``None`` if unusable) and why they are unusable ("" when usable).
    """
    try:
        cache = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, zeroed or not a torch file: any reader error
        return None, f"cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:120]})"
    if not isinstance(cache, dict) or not torch.is_tensor(cache.get("features")):
        return None, "holds no row count and checksum (an older or foreign file)"
    features = cache["features"]
    if cache.get("rows") != rows or len(features) != rows:
        return None, f"holds {len(features)} rows ({cache.get('rows')} recorded), not {rows}"
    if cache.get("sha256") != features_sha256(features):
        return None, "fails its checksum (its features were changed)"
    return features, ""


def write_feature_cache(path: Path, features: torch.Tensor) -> None:
    """Write features with their row count and checksum, atomically (temporary file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            cache = {"features": features, "rows": len(features)}
            torch.save({**cache, "sha256": features_sha256(features)}, file)
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)


def cached_features(
    backbone: nn.Module,
    dataset: AUImageDataset,
    cache_dir: Path | None,
    preprocessing: str,
    batch_size: int = 128,
    desc: str = "features",
) -> torch.Tensor:
    """Features of ``dataset``, read from ``cache_dir`` when computed before, else computed.

    A cache file that cannot be read, holds another number of rows than ``dataset`` or fails
    its checksum is computed again, and the reason logged in one line.
    """
    if cache_dir is None:
        return compute_features(backbone, dataset, batch_size, desc)
    path = Path(cache_dir) / f"{feature_cache_key(backbone, dataset, preprocessing)}.pt"
    if path.exists():
        features, problem = read_feature_cache(path, len(dataset))
        if features is not None:
            return features
        log.warning("feature cache %s %s: computing the features again", path, problem)
    features = compute_features(backbone, dataset, batch_size, desc)
    try:
        write_feature_cache(path, features)
    except OSError as err:  # e.g. a full disk: train on, uncached
        log.warning("feature cache %s not written (%s)", path, err.strerror or err)
    return features
