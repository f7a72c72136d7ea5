"""Reading checkpoints safely: tensors and plain data only, never code.

A checkpoint is a pickle, and an ordinary ``torch.load`` runs whatever the pickle asks for (open
a file, start a process). au reads checkpoints with ``weights_only=True``: tensors, numbers,
strings, lists, tuples and dicts load; anything else is refused with :class:`CheckpointError`
naming the file. ``au.fit`` writes only such content (AU names, thresholds, preprocessing and
the data settings are plain data), so its checkpoints always load.

Checkpoints are written atomically (:class:`AtomicCheckpointIO`): to a temporary file in the
same folder, renamed into place once complete, so a full disk or a killed process never leaves
a truncated file where a good one was.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from au.errors import CheckpointError, CheckpointWriteError

#: Hyper-parameters a detector checkpoint written by ``au.fit`` holds.
DETECTOR_KEYS = ("aus", "backbone")


def read_checkpoint(path: str | Path, mmap: bool = True) -> dict:
    """The content of a checkpoint file, loaded with ``weights_only=True``.

    Args:
        path: The ``.ckpt`` file.
        mmap: Map tensors from the file instead of reading them (fast for the small parts).

    Raises:
        CheckpointError: If the file is missing, truncated or not a PyTorch checkpoint, or if it
            holds objects other than tensors and plain data (it would run code to load).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {path} is truncated or not a PyTorch checkpoint "
            f"({path.stat().st_size} bytes, no complete zip archive)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain data "
            f"({_refused_object(err)}); au loads only weights and plain data and will not run "
            "code from a checkpoint"
        ) from err
    except (RuntimeError, EOFError, KeyError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} cannot be read: {err}") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not a dict")
    return checkpoint


def detector_hyper_parameters(checkpoint: dict, path: str | Path) -> dict:
    """The model hyper-parameters of a checkpoint written by ``au.fit``.

    Raises:
        CheckpointError: If the checkpoint has no weights or lacks the AUs and backbone.
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    missing = [key for key in DETECTOR_KEYS if key not in hparams]
    if "state_dict" not in checkpoint or missing:
        raise CheckpointError(
            f"checkpoint {path} is not an AU detector written by au.fit "
            f"(lacks {', '.join(['state_dict'] * ('state_dict' not in checkpoint) + missing)})"
        )
    return dict(hparams)


#: Data settings a resumed fit shares with its checkpoint: which frames, which split, which AUs,
#: what size (a different AU count or channel count would not even load).
RESUME_DATA_KEYS = (
    "name",
    "index_csv",
    "synthetic",
    "fold",
    "num_folds",
    "split_seed",
    "val_fraction",
    "aus",
    "image_size",
    "channels",
)


def resume_differences(checkpoint: dict, run: dict) -> list[str]:
    """What a run's settings (a plain config dict) change from the checkpoint it resumes.

    Compared: :data:`RESUME_DATA_KEYS` of ``data`` (when the checkpoint records its data), every
    ``task`` setting and ``model.backbone.name`` (au aliases resolved). One line per key, e.g.
    ``data.fold: 1 in the checkpoint, 2 here``.
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    trained = (checkpoint.get("datamodule_hyper_parameters") or {}).get("data") or {}
    data = run.get("data") or {}
    pairs = {}
    if trained:  # index files compared as absolute paths
        pairs = {f"data.{key}": (trained.get(key), data.get(key)) for key in RESUME_DATA_KEYS}
        pairs["data.index_csv"] = tuple(_resolved(d.get("index_csv")) for d in (trained, data))
    trained_task = hparams.get("task") or {"name": "au"}
    task = run.get("task") or {"name": "au"}
    for key in dict.fromkeys([*trained_task, *task]):
        pairs[f"task.{key}"] = (trained_task.get(key), task.get(key))
    backbone = ((run.get("model") or {}).get("backbone") or {}).get("name")
    pairs["model.backbone.name"] = (
        _timm_alias((hparams.get("backbone") or {}).get("name")),
        _timm_alias(backbone),
    )
    return [
        f"{key}: {old} in the checkpoint, {new} here"
        for key, (old, new) in pairs.items()
        if old != new
    ]


def _resolved(path: str | None) -> str | None:
    return None if not path else str(Path(path).expanduser().resolve())


def _timm_alias(name: str | None) -> str | None:
    from au.models.backbone import BACKBONE_ALIASES  # imports timm: only when resuming

    return BACKBONE_ALIASES.get(name, name)


def _refused_object(err: pickle.UnpicklingError) -> str:
    for line in str(err).splitlines():
        if "Unsupported global" in line:
            return line.split("Unsupported global:", 1)[1].split(" was not", 1)[0].strip()
    return str(err).splitlines()[0] if str(err) else "an object torch refuses"


def recorded_positive_threshold(checkpoint: dict) -> float | None:
    """The training data's ``data.positive_threshold`` a checkpoint records (``None``: unset)."""
    data = (checkpoint.get("datamodule_hyper_parameters") or {}).get("data") or {}
    value = data.get("positive_threshold")
    return None if value is None else float(value)


def file_sha256(path: str | Path, chunk: int = 2**20) -> str:
    """The SHA-256 of a file's bytes (hex), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic: temporary file, ``fsync``, ``os.replace``.

    A write that fails half-way (full disk, quota, I/O error) removes its temporary file, leaves
    the previous checkpoint byte for byte as it was and raises :class:`CheckpointWriteError`
    saying why. Paths with a URL scheme (``s3://``) go to Lightning's own writer.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        """Write ``checkpoint`` to ``path`` completely or not at all."""
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(staging, path)
        except BaseException as err:
            Path(staging).unlink(missing_ok=True)
            if not isinstance(err, OSError):
                raise
            kept = "the previous one is kept" if path.exists() else "no earlier one exists"
            raise CheckpointWriteError(
                f"checkpoint {path} could not be written ({err.strerror or err}); {kept}"
            ) from err
