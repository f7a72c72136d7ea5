"""au.compare refuses what it cannot compare, and a --frames filter is data, never code."""

import json

import pandas as pd
import pytest

from au.compare import collect_local_runs, compare_runs, main
from au.evaluation.comparison_checks import ComparisonError
from au.evaluation.frame_subset import FrameQueryError, select_frames

from .test_compare import write_fake_run

PROBE = "low_light == (@pd.io.common.os.system('touch PWNED') + 1)"


def one_line_error(capsys, argv) -> str:
    """Run the command; it must stop with exit status 2 and one line on stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    return error


def edit_summary(folder, **changes):
    path = folder / "results" / "summary.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def test_the_code_execution_probe_runs_nothing(tmp_path, monkeypatch, capsys):
    write_fake_run(tmp_path / "runs" / "a", "bce", "m", 0, (0.5, 0.5))
    monkeypatch.chdir(tmp_path)
    error = one_line_error(capsys, [str(tmp_path / "runs"), "--frames", PROBE])
    assert "'@' names are not allowed" in error
    assert not (tmp_path / "PWNED").exists()
    for code in ("__import__('os').system('touch PWNED') == 0", "low_light.__class__ == 1",
                 "roll + 1 > 2", "abs(roll).real > 1", "roll > yaw", "low_light"):  # fmt: skip
        with pytest.raises(FrameQueryError):
            select_frames(pd.DataFrame({"low_light": [0], "roll": [1], "yaw": [2]}), code)
    assert not (tmp_path / "PWNED").exists()


def test_valid_filters_select_the_right_rows():
    table = pd.DataFrame(
        {"low_light": [0, 1, 1, 0, 0], "roll": [0, 6, -7, 5, 2], "yaw": [0, 20, 0, 11, 0],
         "glasses": [0, 0, 1, 0, 1], "occlusion": [1, 0, 0, 0, 0],
         "name": ["a", "b", "c", "d", "e"]}
    )  # fmt: skip
    expected = {
        "low_light == 1": [1, 2],
        "roll >= 5 and glasses == 0": [1, 3],
        "(yaw > 10) | (occlusion == 1)": [0, 1, 3],
        "roll >= 5 & glasses == 0": [1, 3],  # & binds like `and`, as in pandas
        "abs(roll) >= 5 or name in ['e']": [1, 2, 3, 4],
        "not (low_light == 1) and -1 < roll": [0, 3, 4],
        "name != 'a' and glasses not in [1]": [1, 3],
    }
    for query, rows in expected.items():
        assert select_frames(table, query).nonzero()[0].tolist() == rows, query
    with pytest.raises(FrameQueryError, match=r"no column 'dark' \(index columns: low_light, "):
        select_frames(table, "dark == 1")


def test_runs_of_different_tasks_are_not_subtracted(tmp_path, capsys):
    for seed in range(2):
        write_fake_run(tmp_path / f"bce-{seed}", "bce", "m", seed, (0.5, 0.5))
        emotion = tmp_path / f"emotion-{seed}" / "results"
        emotion.mkdir(parents=True)
        facts = dict(task="emotion", experiment="emo", loss="cross_entropy", backbone="m")
        facts |= dict(data="synthetic", fold=1, seed=seed, macro_f1=0.7)
        (emotion / "summary.json").write_text(json.dumps(facts))
    error = one_line_error(capsys, [str(tmp_path), "--group-by", "experiment", "--baseline", "bce"])
    assert "cannot subtract 'bce' from 'emo': task differs (" in error
    assert "emotion-0: emotion" in error and "bce-0: au" in error


def test_a_group_of_different_au_sets_is_refused(tmp_path):
    write_fake_run(tmp_path / "two-aus", "bce", "m", 0, (0.5, 0.5))
    write_fake_run(tmp_path / "three-aus", "bce", "m", 1, (0.5, 0.5))
    metrics = tmp_path / "three-aus" / "results" / "test_metrics.csv"
    pd.DataFrame({"au": ["AU1", "AU2", "AU4", "average"], "f1": 0.5}).to_csv(metrics, index=False)
    with pytest.raises(ComparisonError, match="group 'bce / m' holds runs of different targets: "):
        compare_runs(collect_local_runs([tmp_path]))


def test_pairs_need_the_same_data_and_one_run_per_replicate(tmp_path, capsys):
    for size in ("40x120", "80x60"):
        write_fake_run(tmp_path / f"bce-{size}", "bce", "m", 0, (0.5, 0.5))
        edit_summary(tmp_path / f"bce-{size}", data_read={"index": f"/data/synthetic/{size}"})
    write_fake_run(tmp_path / "lsep-80x60", "lsep", "m", 0, (0.6, 0.6))
    edit_summary(tmp_path / "lsep-80x60", data_read={"index": "/data/synthetic/80x60"})
    runs = collect_local_runs([tmp_path])
    # bce holds both sizes; one per replicate, so lsep (80x60) meets the 40x120 bce run too
    with pytest.raises(ComparisonError, match="share fold and seed but read different data"):
        compare_runs(runs, baseline="bce")
    (tmp_path / "bce-40x120" / "results" / "summary.json").unlink()
    write_fake_run(tmp_path / "bce-again", "bce", "m", 0, (0.4, 0.4))
    edit_summary(tmp_path / "bce-again", data_read={"index": "/data/synthetic/80x60"})
    error = one_line_error(capsys, [str(tmp_path), "--baseline", "bce"])
    assert "group 'bce / m' has the same replicate twice (data /data/synthetic/80x60, " in error
    assert "bce-80x60 and" in error and "bce-again" in error


def test_poor_arguments_stop_with_one_line(tmp_path, capsys):
    write_fake_run(tmp_path / "runs" / "bce", "bce", "m", 0, (0.5, 0.5))
    write_fake_run(tmp_path / "runs" / "lsep", "lsep", "m", 0, (0.6, 0.6))
    error = one_line_error(capsys, [str(tmp_path / "runs"), "--baseline", "focal"])
    assert error == "error: --baseline 'focal' names no group; the groups: 'bce / m', 'lsep / m'\n"
    (tmp_path / "empty").mkdir()
    error = one_line_error(capsys, [str(tmp_path / "empty")])
    assert error.startswith("error: no readable finished run (*/results/summary.json) under [")
    error = one_line_error(capsys, [str(tmp_path / "missing")])
    assert error == f"error: run folder {tmp_path / 'missing'} does not exist\n"
