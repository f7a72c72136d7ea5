"""Test settings: offline, no W&B account, generated data in a per-session temporary root."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest  # noqa: E402

#: A small synthetic set that still holds every AU and three folds of subjects.
SMALL_SYNTHETIC = dict(num_subjects=9, frames_per_subject=60, image_size=64, difficulty=1)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A data root shared by the session's tests (generated sets are reused within it)."""
    root = tmp_path_factory.mktemp("au-data")
    os.environ["AU_DATA_ROOT"] = str(root)
    return root


@pytest.fixture(scope="session")
def small_synthetic(data_root):
    """Folder of a small generated synthetic set (9 subjects x 60 frames, 64 px)."""
    from au.data.synthetic import SyntheticConfig, ensure_synthetic

    return ensure_synthetic(SyntheticConfig(**SMALL_SYNTHETIC), root=data_root, workers=2)
