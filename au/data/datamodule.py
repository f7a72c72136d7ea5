"""AUDataModule: an index (or the generated synthetic set) split by subject into loaders."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import lightning as L  # noqa: N812
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from au.aus import DISFA_DETECTION_AUS, parse_aus
from au.data.crop_geometry import combined_crop_geometry
from au.data.dataset import AUImageDataset
from au.data.index import AUIndex, read_index
from au.data.splits import split_subjects
from au.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    eval_transform,
    normalization,
    train_transform,
)
from au.errors import ConfigValueError

SPLITS = ("train", "val", "test")


class TargetsOfTask(Protocol):
    """What the data module needs of a task (:class:`au.tasks.base.Task` is one)."""

    #: Whether the data must code AUs.
    needs_au_labels: bool

    def targets(self, index: AUIndex, aus: list[str]) -> dict[str, np.ndarray]:
        """Per-row targets (N, ...) of the index beyond AU labels."""

    def check_targets(self, targets: Mapping[str, np.ndarray], where: str) -> None:
        """Raise ``ValueError`` naming ``where`` if the data hold none of the task's targets."""


class EpochShuffleSampler(Sampler[int]):
    """A shuffle whose order depends only on (seed, epoch): a resumed run sees the same batches.

    Lightning calls ``set_epoch`` before each training epoch (under DDP it uses its own
    ``DistributedSampler``, which is seeded the same way).
    """

    def __init__(self, length: int, seed: int = 0):
        self.length, self.seed, self.epoch = length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of an epoch."""
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.length, generator=generator).tolist())

    def __len__(self) -> int:
        return self.length


class AUDataModule(L.LightningDataModule):
    """Loads an index CSV, splits it by subject and serves train/val/test loaders.

    Args:
        index_csv: A prepared index (file or folder), or a list of them to train on several
            data sets at once (AUs one set does not code are masked). Ignored when
            ``synthetic`` is given.
        synthetic: Generator settings (``au.data.synthetic.SyntheticConfig`` fields): the
            synthetic set is generated once under ``data_root`` and reused.
        data_root: Where generated/prepared data live (default ``$AU_DATA_ROOT``).
        aus: AUs to detect, in model order (default: DISFA's 8 detection AUs).
        positive_threshold: A label counts as present when ``value >= threshold`` (default:
            the index's own, e.g. 2 for intensities).
        fold: Test fold (cross-validation); ``None`` uses the index's ``split`` column.
        num_folds: Folds to deal subjects into when the index has no ``fold`` column.
        val_fraction: Share of the non-test subjects held out for validation / thresholds.
        split_seed: Seed choosing the validation subjects, and nothing else.
        seed: The training seed: it orders the training batches and seeds the augmentation
            (with the epoch), so runs with other seeds see other batches; ``au.fit`` passes
            its ``seed``.
        image_size: Side of the square network input.
        channels: 3 (RGB) or 1 (grayscale/thermal).
        batch_size: Training batch size (evaluation uses ``eval_batch_size`` or 2x).
        num_workers: DataLoader worker processes.
        cache_images: Keep decoded images in memory.
        augment: Keyword arguments of :func:`au.data.transforms.train_transform`, or
            ``False`` for no augmentation.
        clahe: Contrast-normalise every crop (CLAHE) in training and evaluation, for low
            light (:func:`au.data.transforms.contrast_normalization`).
        allow_outside_root: Let index rows name images outside the index's folder (absolute
            paths, ``../``); refused by default, naming the rows.
        task: The task (:mod:`au.tasks`, passed in by the caller) whose further targets every
            sample carries (e.g. intensities, the emotion class); ``None``: AU occurrence,
            which needs none.
        mean: Per-channel normalisation mean: the backbone's
            (:func:`au.models.preprocessing.backbone_normalization`; ``au.fit`` passes it),
            ImageNet's when not given.
        std: Per-channel normalisation standard deviation, as ``mean``.
    """

    def __init__(
        self,
        index_csv: str | list[str] | None = None,
        synthetic: dict | None = None,
        data_root: str | None = None,
        aus: list[str] | None = None,
        positive_threshold: float | None = None,
        fold: int | None = 1,
        num_folds: int = 3,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        seed: int = 0,
        image_size: int = 112,
        channels: int = 3,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        cache_images: bool = False,
        augment: dict | bool | None = None,
        clahe: bool = False,
        allow_outside_root: bool = False,
        name: str = "index",
        task: TargetsOfTask | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ):
        super().__init__()
        if index_csv is None and synthetic is None:
            raise ConfigValueError("set data.index_csv (a prepared index) or data.synthetic")
        if batch_size < 1 or image_size < 16:
            raise ConfigValueError(
                f"bad data.batch_size={batch_size} or data.image_size={image_size}"
            )
        self.index_csv = index_csv
        self.synthetic = dict(synthetic) if synthetic is not None else None
        self.data_root = data_root
        self.aus = parse_aus(aus or DISFA_DETECTION_AUS)
        self.positive_threshold = positive_threshold
        self.fold, self.num_folds = fold, num_folds
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.seed, self.epoch = seed, 0
        self.image_size, self.channels = image_size, channels
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.cache_images = cache_images
        self.allow_outside_root = allow_outside_root
        self.augment = augment
        self.clahe = clahe
        self.mean, self.std = normalization(channels, mean, std)
        self.name = name
        self.task = task
        self.index: AUIndex | None = None
        #: The task's further targets of every index row (e.g. ``intensity``, ``emotion``).
        self.targets: dict[str, np.ndarray] = {}
        self.subjects: dict[str, list[str]] = {}
        self.datasets: dict[str, AUImageDataset] = {}
        #: Index-table row of every sample of each split.
        self.rows: dict[str, np.ndarray] = {}
        #: Datasets served instead of ``datasets`` (e.g. cached stage-1 features).
        self.overrides: dict[str, Dataset] = {}
        #: What the crops are (:func:`crop_geometry_of` the index); a checkpoint's
        #: ``data_config`` keeps it so ``au.predict`` cuts faces the same way.
        self.crop_geometry: dict | None = None

    def _index_locations(self) -> list[Path]:
        if self.synthetic is not None:
            from au.data.synthetic import SyntheticConfig, ensure_synthetic

            return [ensure_synthetic(SyntheticConfig(**self.synthetic), root=self.data_root)]
        sources = [self.index_csv] if isinstance(self.index_csv, str | Path) else self.index_csv
        return [Path(p).expanduser() for p in sources]

    def prepare_data(self) -> None:
        """Generate the synthetic set if needed (once, on one process)."""
        self._index_locations()

    def _load(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """Table, labels, masks and image paths of the index, or of several indexes combined."""
        indexes = [
            read_index(p, check_images=True, allow_outside_root=self.allow_outside_root)
            for p in self._index_locations()
        ]
        if len(indexes) > 1 and self.positive_threshold is not None:
            raise ConfigValueError(
                "combining indexes: leave data.positive_threshold null (each index "
                "applies its own, e.g. 2 for DISFA intensities, 1 for BP4D)"
            )
        tables, labels, masks, paths, targets = [], [], [], [], []
        for index in indexes:
            label, mask = index.labels(self.aus, self.positive_threshold)
            targets.append(self.task.targets(index, self.aus) if self.task is not None else {})
            table = index.table.copy()
            if len(indexes) > 1:  # keep subjects of different data sets apart
                name = index.meta.get("name", index.root.name)
                table["subject"] = name + ":" + table["subject"].astype(str)
            tables.append(table)
            labels.append(label)
            masks.append(mask)
            paths.extend(index.image_paths())
        self.targets = {k: np.concatenate([t[k] for t in targets]) for k in targets[0]}
        self.crop_geometry = combined_crop_geometry(indexes)
        self.index = (
            indexes[0]
            if len(indexes) == 1
            else AUIndex(
                pd.concat(tables, ignore_index=True), indexes[0].root, {"name": "combined"}
            )
        )
        return (
            self.index.table,
            np.concatenate(labels),
            np.concatenate(masks),
            np.array(paths, dtype=object),
        )

    def setup(self, stage: str | None = None) -> None:
        """Read the index (or indexes), split subjects and build the three datasets."""
        if self.datasets:
            return
        table, labels, mask, paths = self._load()
        needs_au_labels = self.task is None or self.task.needs_au_labels
        if needs_au_labels and mask.sum(0).min() == 0:
            missing = [au for au, n in zip(self.aus, mask.sum(0), strict=True) if n == 0]
            raise ConfigValueError(
                f"data.aus: the data ({self.index.root}) codes none of {', '.join(missing)}; "
                "leave them out of data.aus"
            )
        if self.task is not None:
            self.task.check_targets(self.targets, str(self.index.root))
        self.subjects = split_subjects(
            table, self.fold, self.num_folds, self.val_fraction, self.split_seed
        )
        subject = table["subject"].astype(str).to_numpy()
        for split in SPLITS:
            rows = np.flatnonzero(np.isin(subject, self.subjects[split]))
            self.datasets[split] = AUImageDataset(
                paths[rows],
                labels[rows],
                mask[rows],
                self._transform(split),
                channels=self.channels,
                cache=self.cache_images,
                targets={name: values[rows] for name, values in self.targets.items()},
            )
            self.rows[split] = rows

    def set_epoch(self, seed: int, epoch: int) -> None:
        """Seed the training order and augmentation of an epoch from ``(seed, epoch)``."""
        self.seed, self.epoch = seed, epoch
        self.datasets["train"].seed, self.datasets["train"].epoch = seed, epoch

    def use_features(self, features: dict[str, Dataset]) -> None:
        """Serve these datasets (e.g. cached backbone features) instead of the images."""
        self.overrides.update(features)

    def use_images(self) -> None:
        """Serve the images again (after :meth:`use_features`)."""
        self.overrides.clear()

    def _transform(self, split: str):
        if split == "train" and self.augment is not False:
            augment = {"clahe": self.clahe, **dict(self.augment or {})}
            augment |= {"mean": self.mean, "std": self.std}
            return train_transform(self.image_size, self.channels, **augment)
        return self._eval_transform()

    def _eval_transform(self):
        return eval_transform(self.image_size, self.channels, self.clahe, self.mean, self.std)

    def eval_view(self, split: str) -> AUImageDataset:
        """The images of a split with deterministic (evaluation) preprocessing."""
        view = copy.copy(self.datasets[split])
        view.transform = self._eval_transform()
        return view

    def preprocessing_key(self) -> str:
        """Describes the deterministic preprocessing (part of the feature-cache key)."""
        clahe = ":clahe" if self.clahe else ""
        stats = ",".join(f"{v:.6g}" for v in (*self.mean, *self.std))
        return f"eval:size={self.image_size}:channels={self.channels}{clahe}:norm={stats}"

    def train_prevalence(self) -> torch.Tensor:
        """Positive rate of each AU among coded training labels (A,)."""
        train = self.datasets["train"]
        return (train.labels * train.mask).sum(0) / train.mask.sum(0).clamp(min=1)

    def loader(self, split: str, shuffle: bool | None = None) -> DataLoader:
        """A DataLoader over one split (shuffled only for train by default)."""
        train = split == "train"
        dataset = self.overrides.get(split, self.datasets[split])
        shuffle = train if shuffle is None else shuffle
        return DataLoader(
            dataset,
            batch_size=self.batch_size if train else self.eval_batch_size,
            sampler=EpochShuffleSampler(len(dataset), self.seed) if shuffle else None,
            drop_last=train and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        return self.loader("train")

    def val_dataloader(self) -> DataLoader:
        """Validation batches (subjects held out from training)."""
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches (the held-out fold)."""
        return self.loader("test")


def split_frames(datamodule: AUDataModule, split: str) -> pd.DataFrame:
    """The index rows of a data module's split, one per sample id, with their ``row``."""
    rows = datamodule.rows[split]
    return datamodule.index.table.iloc[rows].reset_index(drop=True).assign(row=rows)
