"""The stage-1 feature cache on disk (``schedule.feature_cache_dir``), as a fit uses it.

Every other fit test keeps the features in memory (``small_fit_overrides`` sets the folder to
null); here two fits share a folder: the first writes the features, the second reads them.
"""

import json

import pytest
import torch

from .conftest import compose_fit, small_fit_overrides


def cached_fit_overrides(output_dir, cache_dir) -> list[str]:
    """The small fit's overrides with the feature cache in ``cache_dir`` (None: the default)."""
    overrides = [
        o for o in small_fit_overrides(output_dir) if not o.startswith("schedule.feature_cache_dir")
    ]
    return overrides + ([f"schedule.feature_cache_dir={cache_dir}"] if cache_dir else [])


def test_by_default_stage_one_features_are_cached_under_the_data_root(data_root, tmp_path):
    schedule = compose_fit(cached_fit_overrides(tmp_path, None)).schedule
    assert schedule.cache_features is True
    assert schedule.feature_cache_dir == str(data_root / "features")


@pytest.mark.slow
def test_a_second_fit_reads_the_features_the_first_wrote_and_scores_the_same(
    small_synthetic, tmp_path, monkeypatch
):
    from au.fit import run_fit
    from au.models.module import AULitModule

    cache = tmp_path / "features"
    first = run_fit(compose_fit(cached_fit_overrides(tmp_path / "first", cache)))
    files = sorted(cache.iterdir())
    frames = json.loads((tmp_path / "first" / "results" / "summary.json").read_text())
    frames = frames["data_read"]["frames"]
    # one file per split stage 1 trains and validates on (the test runs on images after stage 2)
    assert [path.suffix for path in files] == [".pt", ".pt"]
    rows = sorted(torch.load(path, weights_only=True)["rows"] for path in files)
    assert rows == sorted([frames["train"], frames["val"]])
    assert sum(frames.values()) == 9 * 60  # every frame of the small synthetic set
    stamps = {path: path.stat().st_mtime_ns for path in files}

    def computed_again(*args, **kwargs):
        raise AssertionError("the second fit computed stage-1 features instead of reading them")

    monkeypatch.setattr("au.data.features.compute_features", computed_again)
    second = run_fit(compose_fit(cached_fit_overrides(tmp_path / "second", cache)))
    assert {path: path.stat().st_mtime_ns for path in sorted(cache.iterdir())} == stamps
    assert second.keys() == first.keys() and "test/f1" in first
    assert second == pytest.approx(first, abs=1e-6)
    thresholds = [
        AULitModule.load_detector(
            tmp_path / run / "checkpoints" / "best.ckpt"
        ).task_state.thresholds
        for run in ("first", "second")
    ]
    assert torch.equal(*thresholds)
