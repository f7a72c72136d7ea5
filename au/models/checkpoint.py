"""Reading checkpoints safely: tensors and plain data only, never code.

A checkpoint is a pickle, and an ordinary ``torch.load`` runs whatever the pickle asks for (open
a file, start a process). au reads checkpoints with ``weights_only=True``: tensors, numbers,
strings, lists, tuples and dicts load; anything else is refused with :class:`CheckpointError`
naming the file. ``au.fit`` writes only such content (AU names, thresholds, preprocessing and
the data settings are plain data), so its checkpoints always load.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

#: Hyper-parameters a detector checkpoint written by ``au.fit`` holds.
DETECTOR_KEYS = ("aus", "backbone")


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, not au's, or needs code to load."""


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
