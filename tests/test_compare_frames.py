"""``au.compare --frames``: runs compared on the test frames of one condition (e.g. low light)."""

import json

import numpy as np
import pytest

from au.compare import collect_local_runs, compare_runs, main
from au.data.index import read_index
from au.evaluation.frame_subset import FrameQueryError

from .test_compare import write_fake_run
from .test_paired_bootstrap import predictions_table


def _write_runs(root, index_root, frames: int | None = None):
    """bce and clahe runs over seeds 0-2: clahe is right on dark frames and wrong on lit ones."""
    table = read_index(index_root).table.iloc[:frames]  # low light: one subject's episodes
    dark = table["low_light"].to_numpy() == 1
    count = len(table)
    labels = np.stack([np.arange(count) % 3 == 0, np.arange(count) % 4 == 0], 1).astype(float)
    for seed in range(3):
        for experiment, right in (("bce", ~dark), ("clahe", dark)):
            folder = root / f"{experiment}-{seed}"
            write_fake_run(folder, experiment, "m", seed, (0.5, 0.5))
            decisions = np.where(right[:, None], labels, 1 - labels).astype(int)
            predictions = predictions_table(decisions, labels, list(table["subject"].astype(str)))
            predictions.to_csv(folder / "results" / "test_predictions.csv", index=False)
            summary_path = folder / "results" / "summary.json"
            summary = json.loads(summary_path.read_text())
            summary["data_read"] = {"index": str(index_root)}
            summary_path.write_text(json.dumps(summary))
    return dark


def test_runs_are_scored_on_the_matching_frames_only(small_synthetic, tmp_path, capsys):
    dark = _write_runs(tmp_path, small_synthetic)
    assert 0 < dark.sum() < len(dark)  # the small set has dark and lit frames
    runs = collect_local_runs([tmp_path], frames="low_light == 1")
    assert (runs["frames"] == dark.sum()).all()
    f1 = runs.groupby("experiment")["f1"].mean()
    # on dark frames clahe decides every label right (F1 1) and bce every label wrong (F1 0)
    assert f1["clahe"] == pytest.approx(1.0) and f1["bce"] == pytest.approx(0.0)
    table = compare_runs(runs, group_by=["experiment"], baseline="bce").set_index("experiment")
    assert table.loc["clahe", "verdict"] == "better" and table.loc["clahe", "delta_low"] > 0.5
    lit = collect_local_runs([tmp_path], frames="low_light == 0")
    assert lit.groupby("experiment")["f1"].mean()["bce"] == pytest.approx(1.0)
    out = tmp_path / "cmp"
    main([str(tmp_path), "--group-by", "experiment", "--baseline", "bce", "--out", str(out),
          "--frames", "low_light == 1"])  # fmt: skip
    assert "test frames where `low_light == 1`" in (out / "comparison.md").read_text()
    assert "compared 6 runs" in capsys.readouterr().out


def test_a_query_the_index_cannot_answer_stops_with_one_line(small_synthetic, tmp_path, capsys):
    _write_runs(tmp_path, small_synthetic, frames=30)
    with pytest.raises(FrameQueryError, match="no column 'darkness' \\(index columns: "):
        collect_local_runs([tmp_path], frames="darkness == 1")
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "--frames", "roll"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --frames 'roll': 'roll' is not a condition; expected ")
    assert error.count("\n") == 1
