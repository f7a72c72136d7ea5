"""Backbone features computed once for stage 1, when the backbone is frozen.

With a frozen backbone (weights and BatchNorm statistics) and deterministic preprocessing, a
sample's features never change during stage 1, so the head can be trained on features computed
once. They are cached on disk under a key made of the backbone's weights, the preprocessing
and the images, so any change to one of them computes them again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from au.data.dataset import AUImageDataset


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


def cached_features(
    backbone: nn.Module,
    dataset: AUImageDataset,
    cache_dir: Path | None,
    preprocessing: str,
    batch_size: int = 128,
    desc: str = "features",
) -> torch.Tensor:
    """Features of ``dataset``, read from ``cache_dir`` when computed before, else computed."""
    if cache_dir is None:
        return compute_features(backbone, dataset, batch_size, desc)
    path = Path(cache_dir) / f"{feature_cache_key(backbone, dataset, preprocessing)}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    features = compute_features(backbone, dataset, batch_size, desc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(features, tmp)
    tmp.replace(path)
    return features
