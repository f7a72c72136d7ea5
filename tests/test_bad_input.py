"""Bad input stops before any work with one clear message (issue 14: one test per row tried).

The rows of ``au.compare`` (a malformed ``summary.json``) are tested with au.compare.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from au.data.datamodule import AUDataModule
from au.data.index import IndexFormatError, read_index, write_index
from au.data.splits import SplitError, split_subjects
from au.inference.media import Source, read_frames
from au.inference.pipeline import PredictionRunner, PredictSummary
from au.models.checkpoint import CheckpointError, read_checkpoint
from au.models.module import AULitModule
from au.run.config_checks import ConfigValueError, check_config_values
from au.run.folder import bad_input_stops_run, remove_unstarted_run, run_stamp
from tests.conftest import compose_fit

REPO = Path(__file__).resolve().parents[1]


def make_index(folder: Path, subjects: int = 6, frames: int = 4, label_type="intensity") -> Path:
    """A small intensity index with real 24 px images: ``subjects`` x ``frames`` rows."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(subjects):
        for f in range(frames):
            path = f"images/S{s}/{f}.png"
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / path), rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
            rows.append(dict(path=path, subject=f"S{s}", frame=f, AU1=f % 4, AU12=(f + s) % 3))
    write_index(pd.DataFrame(rows), folder, {"label_type": label_type, "positive_threshold": 2})
    return folder / "index.csv"


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    command = [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


# ---- the index --------------------------------------------------------------------------
def test_debug_fast_keeps_the_chosen_data_set(tmp_path):
    config = compose_fit(
        ["debug=fast", "data=index", "data.index_csv=/missing.csv", "paths.output_dir=x"]
    )
    assert config.data.name == "index" and config.data.synthetic is None
    assert config.data.index_csv == "/missing.csv" and config.data.image_size == 64
    with pytest.raises(IndexFormatError, match="index CSV not found: /missing.csv"):
        AUDataModule(**{**config.data, "data_root": str(tmp_path)}).setup()
    synthetic = compose_fit(["debug=fast", "paths.output_dir=x"]).data.synthetic
    assert (synthetic.num_subjects, synthetic.frames_per_subject, synthetic.image_size) == (
        6,
        30,
        64,
    )
    default = compose_fit(["paths.output_dir=x"]).data.synthetic
    assert (default.num_subjects, default.image_size) != (6, 64)


@pytest.mark.slow
def test_fit_summary_names_the_index_it_read(tiny_run, small_synthetic):
    summary = json.loads((tiny_run / "results" / "summary.json").read_text())
    assert summary["data_read"]["index"] == str(small_synthetic)
    assert sum(summary["data_read"]["frames"].values()) == 9 * 60


def test_au_values_off_the_scale_or_text_are_all_listed(tmp_path):
    csv = make_index(tmp_path)
    table = pd.read_csv(csv)
    table["AU1"] = table["AU1"].astype(object)
    for position, value in zip(range(6), [9, -3, 7.5, 100, "yes", "no"], strict=True):
        table.loc[position, "AU1"] = value
    table.loc[7, "AU1"] = np.nan  # empty: "not coded", allowed
    table.to_csv(csv, index=False)
    with pytest.raises(IndexFormatError) as caught:
        read_index(csv)
    message = str(caught.value)
    assert message.count("\n") == 0 and message.startswith(f"{csv}: AU1: 6 value(s)")
    cells = "row 2: 9, row 3: -3, row 4: 7.5, row 5: 100, row 6: yes, row 7: no"
    assert message.endswith(cells)


def test_occurrence_index_allows_only_0_and_1(tmp_path):
    csv = make_index(tmp_path, label_type="occurrence")
    table = pd.read_csv(csv)
    table["AU1"] = [0, 1, 2, 1] * 6  # intensities in an occurrence set: rows 4, 8, ...
    table["AU12"] = 1
    table.to_csv(csv, index=False)
    with pytest.raises(IndexFormatError, match=r"AU1: 6 value\(s\) not 0 or 1 \(occurrence\)"):
        read_index(csv)


def test_fold_column_partly_empty_is_an_error(tmp_path):
    table = pd.read_csv(make_index(tmp_path))
    table["fold"] = [1 + i % 3 for i in range(6) for _ in range(4)]
    table.loc[[0, 5], "fold"] = np.nan
    with pytest.raises(SplitError, match="'fold' column is empty on 2 of 24 rows"):
        split_subjects(table, fold=1)


def test_duplicated_rows_are_named(tmp_path):
    csv = make_index(tmp_path, subjects=1, frames=3)
    table = pd.read_csv(csv)
    pd.concat([table, table], ignore_index=True).to_csv(csv, index=False)
    with pytest.raises(IndexFormatError) as caught:
        read_index(csv)
    message = str(caught.value)
    assert "3 image path(s) appear on more than one row" in message
    assert "images/S0/0.png (rows 2 5)" in message and "images/S0/2.png (rows 4 7)" in message


def test_every_missing_image_is_listed(tmp_path):
    csv = make_index(tmp_path)
    table = pd.read_csv(csv)
    for path in table["path"][:12]:
        (tmp_path / path).unlink()
    assert read_index(csv).table.shape == (24, 5)  # without check_images: labels only
    with pytest.raises(IndexFormatError) as caught:
        read_index(csv, check_images=True)
    message = str(caught.value)
    assert "12 image file(s) do not exist" in message
    assert all(f"row {row} " in message for row in range(2, 14))
    assert "row 14 " not in message
    assert [message.count(f"{tmp_path / path},") for path in table["path"][:11]] == [1] * 11
    assert message.endswith(f"row 13 {tmp_path / table['path'][11]}")  # each named once


def test_corrupt_test_image_stops_the_data_module_before_training(tmp_path):
    csv = make_index(tmp_path)
    table = pd.read_csv(csv)
    table["fold"] = [1 + i % 3 for i in range(6) for _ in range(4)]
    table.to_csv(csv, index=False)
    test_image = tmp_path / table.loc[table["fold"] == 1, "path"].iloc[2]
    test_image.write_bytes(b"not an image at all")
    datamodule = AUDataModule(index_csv=str(csv), aus=["AU1", "AU12"], image_size=32)
    with pytest.raises(IndexFormatError, match=f"1 image file.* not decodable.*{test_image}"):
        datamodule.setup("fit")
    assert not datamodule.datasets


def test_an_au_the_data_does_not_code_is_named_as_a_config_error(tmp_path):
    """Before, a plain ValueError: a traceback and status 1 instead of one error line."""
    csv = make_index(tmp_path)
    datamodule = AUDataModule(index_csv=str(csv), aus=["AU1", "AU4", "AU12"], image_size=32)
    with pytest.raises(ConfigValueError, match=r"^data.aus: the data \(.*\) codes none of AU4;"):
        datamodule.setup("fit")


# ---- config values and run folders --------------------------------------------------------
def test_config_value_of_the_wrong_type_names_key_and_type():
    overrides = ["data.batch_size=abc", "schedule.stage2_epochs=1.5", "paths.output_dir=x"]
    config = compose_fit(overrides)
    with pytest.raises(ConfigValueError) as caught:
        check_config_values(config)
    assert str(caught.value).splitlines() == [
        "data.batch_size='abc': expected an integer",
        "schedule.stage2_epochs=1.5: expected an integer",
    ]
    check_config_values(compose_fit(["data.val_fraction=1", "paths.output_dir=x"]))  # int: ok


@pytest.mark.slow
def test_cli_bad_config_value_exits_2_and_leaves_no_run_folder(tmp_path):
    done = run_cli("au.fit", "data.batch_size=abc", cwd=tmp_path)
    assert done.returncode == 2
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == "error: data.batch_size='abc': expected an integer"
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


def test_unstarted_run_folder_and_its_empty_parents_are_removed(tmp_path):
    keep = tmp_path / "logs" / "other-run"
    keep.mkdir(parents=True)
    run = tmp_path / "logs" / "fit" / "runs" / "x"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("a: 1")
    (run / "fit.log").write_text("")
    assert remove_unstarted_run(run)
    assert not (tmp_path / "logs" / "fit").exists() and keep.is_dir()
    started = tmp_path / "started"
    (started / "checkpoints").mkdir(parents=True)
    assert not remove_unstarted_run(started) and started.is_dir()


@pytest.mark.slow
def test_evaluate_missing_checkpoint_creates_no_folder(tmp_path):
    done = run_cli("au.evaluate", f"ckpt_path={tmp_path}/no/such/dir/x.ckpt", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(f"checkpoint not found: {tmp_path}/no/such/dir/x.ckpt")
    assert not (tmp_path / "no").exists()


def test_run_stamps_differ_within_one_millisecond():
    stamps = {run_stamp() for _ in range(50)}
    assert len(stamps) == 50
    assert all(len(s) == len("2026-12-02_16-10-05.123-9f3a1c") for s in stamps)


@pytest.mark.slow
def test_two_fits_started_in_the_same_second_get_their_own_folders(small_synthetic, tmp_path):
    env = {"AU_DATA_ROOT": str(small_synthetic.parents[1])}
    args = ["au.fit", "debug=fast", "test=false", "trainer.enable_progress_bar=false"]
    command = [sys.executable, "-m", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    runs = [
        subprocess.Popen(command, cwd=tmp_path, env=full_env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    folders = sorted((tmp_path / "logs" / "fit" / "runs").glob("*/*"))
    assert len(folders) == 2
    for folder in folders:
        assert (folder / "checkpoints" / "last.ckpt").is_file()
        assert (folder / "csv" / "metrics.csv").is_file()


# ---- checkpoints ----------------------------------------------------------------------------
def small_checkpoint(path: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(300_000)}, "hyper_parameters": {}}, path)
    return path


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = small_checkpoint(tmp_path / "cut.ckpt")
    path.write_bytes(path.read_bytes()[: 2**20 // 2])
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is truncated"):
        AULitModule.load_detector(path)


class OpensAFile:
    """Unpickling this calls ``open(marker, "w")``: code run by ``torch.load``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_checkpoint_that_runs_code_is_refused(tmp_path):
    marker, path = tmp_path / "opened", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": OpensAFile(marker)}, path)
    for load in (AULitModule.load_detector, read_checkpoint):
        with pytest.raises(CheckpointError, match=f"{path} holds objects other than tensors"):
            load(path)
    assert not marker.exists()


def test_checkpoint_without_detector_content_is_refused(tmp_path):
    path = small_checkpoint(tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not an AU detector written by au.fit.*aus"):
        AULitModule.load_detector(path)


@pytest.mark.slow
def test_fit_checkpoints_load_with_weights_only(tiny_run):
    for name in ("best.ckpt", "last.ckpt"):
        checkpoint = torch.load(tiny_run / "checkpoints" / name, weights_only=True)
        assert checkpoint["hyper_parameters"]["aus"][0] == "AU1"
    model = AULitModule.load_detector(tiny_run / "checkpoints" / "best.ckpt")
    assert model.task_state.thresholds.shape == (8,)


# ---- processes and media --------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_workers_end_with(parent: subprocess.Popen) -> None:
    """Kill ``parent`` (SIGKILL: no cleanup runs) and assert its 2+ workers end within 5 s."""
    workers = descendants(parent.pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if running(pid)]
    for pid in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert len(workers) >= 2 and left == []


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_generator_leaves_no_renderer(tmp_path):
    code = (
        "from au.data.synthetic import SyntheticConfig, generate_synthetic; "
        "generate_synthetic(SyntheticConfig(num_subjects=4, frames_per_subject=400, "
        f"image_size=64), root={str(tmp_path)!r}, workers=2, progress=False)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("synthetic/.*/images/*/*.jpg")):
        assert time.monotonic() < deadline and parent.poll() is None, "rendering never started"
        time.sleep(0.2)
    assert_workers_end_with(parent)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_prepare_leaves_no_worker(tmp_path):
    """``au.prepare --workers 2`` killed mid-way: its workers end too (they waited forever)."""
    from tests.prepare.fixtures import make_disfa

    raw = make_disfa(tmp_path / "raw", {f"SN{i:03d}": 400 for i in range(1, 13)})
    out = tmp_path / "out"
    command = ["-m", "au.prepare", "disfa", "--raw", str(raw), "--out", str(out)]
    parent = subprocess.Popen(
        [sys.executable, *command, "--workers", "2"], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(descendants(parent.pid)) < 2:
        assert time.monotonic() < deadline and parent.poll() is None, "workers never started"
        time.sleep(0.2)
    assert_workers_end_with(parent)


def test_video_that_ends_early_is_reported(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    writer.release()
    whole = video.read_bytes()
    frames = read_frames(Source("video", video, video.name))
    assert sum(1 for _ in frames) == 60
    video.write_bytes(whole[: len(whole) // 2])
    runner = PredictionRunner.__new__(PredictionRunner)  # only its frame reading is used
    runner.summary = PredictSummary()
    decoded = len(list(runner._frames([Source("video", video, video.name)], 1, None)))
    assert 20 <= decoded < 60
    assert runner.summary.ended_early == [
        f"{video}: ended early: {decoded} of the 60 frames its container lists decoded"
    ]
    assert f"ended early: {video}" in runner.summary.format()


# ---- promises of docs/checks.md that had no test of their own --------------------------------
def test_refused_checkpoints_are_one_error_line_with_exit_status_2(tmp_path, capsys):
    marker, unsafe = tmp_path / "opened", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": OpensAFile(marker)}, unsafe)
    cut = small_checkpoint(tmp_path / "cut.ckpt")
    cut.write_bytes(cut.read_bytes()[:1000])
    missing = tmp_path / "none.ckpt"
    lines = {
        missing: f"checkpoint not found: {missing}",
        cut: f"checkpoint {cut} is truncated or not a PyTorch checkpoint (1000 bytes, no "
        "complete zip archive)",
        unsafe: f"checkpoint {unsafe} holds objects other than tensors and plain data (GLOBAL "
        "io.open); au loads only weights and plain data and will not run code from a checkpoint",
    }
    config = compose_fit(["paths.output_dir=x"])
    for path, line in lines.items():
        with pytest.raises(SystemExit) as stopped, bad_input_stops_run(config):
            AULitModule.load_detector(path)
        assert stopped.value.code == 2
        assert capsys.readouterr().err == f"error: {line}\n"
    assert not marker.exists()


def test_an_unreadable_video_or_image_among_the_inputs_is_skipped_and_named_once(tmp_path, caplog):
    good, broken, cut = tmp_path / "good.avi", tmp_path / "broken.avi", tmp_path / "cut.jpg"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for shade in (0, 80, 160):
        writer.write(np.full((32, 32, 3), shade, np.uint8))
    writer.release()
    broken.write_bytes(bytes(64))
    cut.write_bytes(cv2.imencode(".jpg", np.zeros((32, 32, 3), np.uint8))[1].tobytes()[:-50])
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG not really")
    sources = [Source("video", broken, broken.name), Source("image", cut, cut.name)]
    sources += [Source("image", garbage, garbage.name), Source("video", good, good.name)]
    runner = PredictionRunner.__new__(PredictionRunner)  # only its frame reading is used
    runner.summary = PredictSummary()
    with caplog.at_level(logging.WARNING, logger="au.inference.pipeline"):
        frames = list(runner._frames(sources, 1, None))
    assert [(f.source.name, f.index) for f in frames] == [("good.avi", i) for i in range(3)]
    reasons = [
        f"cannot open video {broken}",
        f"cannot decode image {cut}: truncated (the file is cut short)",
        f"cannot decode image {garbage}: corrupt or not an image",
    ]
    assert runner.summary.skipped == reasons
    assert [r.getMessage() for r in caplog.records] == [f"skipped: {r}" for r in reasons]
    assert "3 unreadable inputs skipped" in runner.summary.format()
    assert runner.summary.format().count(str(garbage)) == 1


def test_prepare_errors_from_the_file_system_name_the_file_once(tmp_path):
    from au.prepare import PrepareError
    from au.prepare.common import write_image
    from au.prepare.disfa import load_landmarks

    taken = tmp_path / "crop.jpg"
    taken.mkdir()  # the crop's name is taken by a folder: the write fails
    with pytest.raises(PrepareError) as refused:
        write_image(taken, np.zeros((8, 8, 3), np.uint8))
    assert str(refused.value) == (
        f"cannot write image {taken}: is the output folder writable? (Is a directory)"
    )
    missing = tmp_path / "SN001_0001_lm.mat"
    with pytest.raises(PrepareError) as refused:
        load_landmarks(missing)
    assert str(refused.value) == (
        f"cannot read landmarks {missing}: expected a .mat file with 'pts' "
        "(No such file or directory)"
    )


@pytest.mark.slow
def test_hydra_refuses_a_misspelled_key_itself_and_au_names_one_added_with_plus(tmp_path):
    added = run_cli("au.fit", "+data.bach_size=8", cwd=tmp_path)
    assert added.returncode == 2
    last_line = added.stderr.strip().splitlines()[-1]
    assert last_line == "error: data.bach_size: unknown key (did you mean batch_size?)"
    misspelled = run_cli("au.fit", "data.bach_size=8", cwd=tmp_path)
    assert misspelled.returncode == 1  # Hydra's own status: au's code never runs
    assert "Could not override 'data.bach_size'" in misspelled.stderr
    assert "To append to your config use +data.bach_size=8" in misspelled.stderr
    option = run_cli("au.fit", "backbone=nope", cwd=tmp_path)
    assert option.returncode == 1
    assert "Could not find 'backbone/nope'" in option.stderr
    assert "\tmobilenet_v2\n" in option.stderr  # the choices are listed
    assert list(tmp_path.iterdir()) == []
