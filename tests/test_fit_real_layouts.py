"""au.fit on releases prepared from fixtures shaped exactly like DISFA and Bosphorus."""

import json
import subprocess
import sys

import pytest

from au.prepare import prepare

from .prepare.fixtures import make_bosphorus, make_disfa

pytestmark = pytest.mark.slow

#: Two subjects of each of DISFA's three official folds.
DISFA_SUBJECTS = {"SN001": 10, "SN002": 10, "SN013": 10, "SN018": 10, "SN003": 10, "SN029": 10}
TINY = [
    "backbone=tiny",
    "logger=csv",
    "data.image_size=48",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.pin_memory=false",
    "schedule.stage1_max_epochs=1",
    "schedule.stage2_epochs=1",
    "schedule.stage2_min_steps=null",
    "schedule.feature_cache_dir=null",
    "trainer.enable_progress_bar=false",
]


def _fit(output_dir, *overrides):
    command = [sys.executable, "-m", "au.fit", *TINY, *overrides, f"hydra.run.dir={output_dir}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_disfa_fold_1_with_lsep_on_a_prepared_release(tmp_path):
    index = prepare(
        "disfa", make_disfa(tmp_path / "raw", DISFA_SUBJECTS), tmp_path / "disfa", crop_size=64
    )
    out = _fit(
        tmp_path / "run",
        "data=disfa",
        "data.fold=1",
        "experiment=lsep",
        f"data.index_csv={index.parent}",
    )
    assert "'test': ['SN001', 'SN002']" in out  # fold 1 of the official DISFA split
    summary = json.loads((tmp_path / "run" / "results" / "summary.json").read_text())
    assert 0.0 <= summary["f1"] <= 1.0


def test_two_prepared_data_sets_share_one_head(tmp_path):
    disfa = prepare(
        "disfa", make_disfa(tmp_path / "raw", DISFA_SUBJECTS), tmp_path / "disfa", crop_size=64
    )
    stems = ["N_N_0", "LFAU_12_0", "LFAU_25_0", "UFAU_1_0", "UFAU_2_0", "UFAU_4_0"]
    raw = make_bosphorus(tmp_path / "braw", {f"bs00{i}": stems for i in range(3)})
    bosphorus = prepare("bosphorus", raw, tmp_path / "bosphorus", crop_size=64)
    out = _fit(
        tmp_path / "run",
        "data=combined",
        f"data.index_csv=[{disfa.parent},{bosphorus.parent}]",
    )
    assert "bosphorus:bs000" in out and "disfa:SN001" in out
    assert (tmp_path / "run" / "results" / "test_metrics.csv").exists()
