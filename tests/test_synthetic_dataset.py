"""The synthetic AU set: timelines, label statistics, deterministic atomic generation, the CLI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from au.aus import DISFA_AUS
from au.data.index import read_index
from au.data.synthetic import SyntheticConfig, ensure_synthetic, generate_synthetic, writer
from au.data.synthetic.__main__ import main as cli_main
from au.data.synthetic.episodes import code_intensities, plan_subject, sample_subject_timeline
from au.data.synthetic.nuisances import nuisance_record
from au.data.synthetic.stats import (
    TARGET_RATES,
    au_rates,
    cooccurrence,
    rate_table,
    rate_tolerance,
)

SMALL = SyntheticConfig(num_subjects=4, frames_per_subject=40, image_size=64, num_folds=2)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _timeline_table(num_subjects: int, num_frames: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = [
        code_intensities(sample_subject_timeline(rng, num_frames).intensities)
        for _ in range(num_subjects)
    ]
    return pd.DataFrame(np.concatenate(codes), columns=list(DISFA_AUS))


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic(SMALL, root=tmp_path_factory.mktemp("small"), progress=False)


def test_same_seed_same_bytes_for_any_worker_count(small_set: Path, tmp_path: Path) -> None:
    again = generate_synthetic(SMALL, root=tmp_path, workers=1, progress=False)
    assert again.name == small_set.name
    first, second = _files(small_set), _files(again)
    assert len(first) == 4 * 40 + 2
    assert first == second


def test_another_seed_gives_other_data(small_set: Path, tmp_path: Path) -> None:
    other_cfg = replace(SMALL, seed=1, num_subjects=1, num_folds=1)
    other = generate_synthetic(other_cfg, root=tmp_path, progress=False)
    assert other.name != small_set.name
    assert (other / "images/S01/00000.jpg").read_bytes() != (
        small_set / "images/S01/00000.jpg"
    ).read_bytes()
    assert not read_index(other).table["AU25"].equals(read_index(small_set).table["AU25"][:40])


def test_rates_and_cooccurrence_follow_disfa_on_many_frames() -> None:
    table = _timeline_table(num_subjects=600, num_frames=150)
    rates = au_rates(table, DISFA_AUS)
    for au, target in TARGET_RATES.items():
        assert abs(rates[au] - target) <= 0.2 * target, (au, rates[au], target)
    given = cooccurrence(table, DISFA_AUS)
    assert given.loc["AU25", "AU26"] > 0.8  # most jaw drops part the lips
    assert given.loc["AU12", "AU6"] > 0.85  # most cheek raises come with a smile
    assert given.loc["AU1", "AU2"] > 0.8 and given.loc["AU2", "AU1"] > 0.5
    assert given.loc["AU6", "AU9"] < 0.05  # unrelated AUs rarely co-occur


def test_default_set_rates_within_stated_tolerance() -> None:
    table = writer.label_table(SyntheticConfig())
    assert len(table) == 24 * 150
    rates = rate_table(table, DISFA_AUS)
    assert rates["within"].all(), rates
    assert rate_tolerance(0.277) == pytest.approx(0.35 * 0.277)
    assert rate_tolerance(0.02) == pytest.approx(0.02)


def test_episodes_rise_during_onset_and_fall_during_offset() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(30):
        timeline = sample_subject_timeline(rng, 200)
        for episode in timeline.episodes:
            if episode.end > 200 or episode.kind == "speech":
                continue  # cut by the end of the video; speech opens and closes the mouth
            main = timeline.intensities[:, DISFA_AUS.index(episode.main_au)]
            onset = main[episode.start : episode.apex_start]
            offset = main[episode.offset_start : episode.end]
            assert np.all(np.diff(onset) > 0) and np.all(np.diff(offset) < 0)
            assert onset[-1] > onset[0] and offset[0] > offset[-1]
            inside = timeline.episode_ids[episode.start : episode.end]
            assert np.all(inside == episode.episode_id)
            labels = set(timeline.emotions[episode.start : episode.end])
            assert labels <= {episode.emotion, "neutral"}
            checked += 1
    assert checked > 100


def test_nuisances_are_smooth_within_a_video() -> None:
    for subject in range(6):
        plan = plan_subject(0, subject, 6, 200, difficulty=3, modality="rgb")
        table = pd.DataFrame([nuisance_record(n) for n in plan.nuisances])
        assert table["glasses"].nunique() == 1 and table["jpeg_quality"].nunique() == 1
        assert table["yaw"].diff().abs().max() < 2.5  # degrees per frame: the head turns slowly
        assert table["light_level"].ne(table["light_level"].shift()).sum() <= 200 // 30 + 1
        assert table["nuisance_seed"].nunique() == 200  # fresh sensor noise every frame


def test_index_loads_with_consistent_labels(small_set: Path) -> None:
    index = read_index(small_set)
    table = index.table
    assert list(table.columns[:3]) == ["path", "subject", "frame"]
    assert index.au_columns == list(DISFA_AUS)
    assert index.meta["positive_threshold"] == 2 and index.meta["channels"] == 3
    assert index.meta["hash"] in small_set.name
    labels, mask = index.labels(["AU12", "AU25", "AU7"], positive_threshold=2)
    assert np.array_equal(labels[:, 0], (table["AU12"] >= 2).to_numpy(np.float32))
    assert np.array_equal(labels[:, 1], (table["AU25"] >= 2).to_numpy(np.float32))
    assert mask[:, :2].all() and not mask[:, 2].any()  # AU7 is not coded: masked
    assert table[list(DISFA_AUS)].isin(range(6)).all().all()
    image = cv2.imread(str(index.image_paths()[5]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3)


def test_subjects_are_disjoint_across_folds(small_set: Path) -> None:
    table = read_index(small_set).table
    folds_per_subject = table.groupby("subject")["fold"].nunique()
    assert (folds_per_subject == 1).all()
    assert sorted(table.groupby("subject")["fold"].first().value_counts().tolist()) == [2, 2]
    listed = read_index(small_set).meta["folds"]
    assert sorted(listed) == ["1", "2"]
    assert {s for subjects in listed.values() for s in subjects} == set(table["subject"])
    for fold, subjects in listed.items():
        assert set(table.loc[table["fold"] == int(fold), "subject"]) == set(subjects)


def test_ensure_reuses_and_a_changed_config_gets_a_new_folder(tmp_path: Path) -> None:
    cfg = SyntheticConfig(num_subjects=2, frames_per_subject=6, image_size=32, num_folds=2)
    folder = ensure_synthetic(cfg, root=tmp_path, workers=1)
    stamp = (folder / "index.csv").stat().st_mtime_ns
    assert ensure_synthetic(cfg, root=tmp_path) == folder
    assert (folder / "index.csv").stat().st_mtime_ns == stamp
    gray = ensure_synthetic(replace(cfg, modality="gray"), tmp_path)
    assert gray != folder and gray.name.startswith("gray-d2-")
    assert cv2.imread(str(gray / "images/S02/00003.jpg"), cv2.IMREAD_UNCHANGED).shape == (32, 32)
    assert read_index(gray).meta["channels"] == 1


def test_interrupted_generation_leaves_no_complete_looking_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SyntheticConfig(num_subjects=2, frames_per_subject=5, image_size=32, num_folds=2)
    calls = []

    def failing_render(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-way
        return np.zeros((32, 32, 3), np.uint8)

    monkeypatch.setattr(writer, "render_face", failing_render)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)
    folder = writer.dataset_folder(cfg, tmp_path)
    assert not folder.exists() and list(folder.parent.iterdir()) == []
    # A build killed hard leaves its staging folder (with a finished-looking index) behind.
    stale = folder.with_name(f".{folder.name}.build-{2**22 + 7}-dead")
    stale.mkdir()
    (stale / "index.csv").write_text("path,subject,AU1\n")
    monkeypatch.undo()
    assert ensure_synthetic(cfg, root=tmp_path, workers=1) == folder
    assert len(read_index(folder).table) == 10 and not stale.exists()


def test_a_set_another_process_finished_first_is_kept_while_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two fits started together on a fresh data root both render the set; the second to
    finish used to move the first one's folder aside while the first fit read it."""
    cfg = SyntheticConfig(num_subjects=2, frames_per_subject=5, image_size=32, num_folds=2)
    folder = writer.dataset_folder(cfg, tmp_path)
    render_all = writer._render_all

    def others_finish_first(cfg_, staging, workers, progress):
        table = render_all(cfg_, staging, workers, progress)
        if not folder.exists():  # the other process puts its copy in place meanwhile
            monkeypatch.setattr(writer, "_render_all", render_all)
            generate_synthetic(cfg_, root=tmp_path, workers=1, progress=False)
            (folder / "read-by-the-other-fit").write_text("")
        return table

    monkeypatch.setattr(writer, "_render_all", others_finish_first)
    kept = generate_synthetic(cfg, root=tmp_path, workers=1, progress=False, replace=False)
    assert kept == folder
    assert (folder / "read-by-the-other-fit").is_file()  # the same folder, never moved
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no staging left
    assert len(read_index(folder).table) == 10
    # replace=True (au.data.synthetic's CLI) renders a fresh copy over it.
    generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)
    assert not (folder / "read-by-the-other-fit").exists()
    assert writer.is_complete(folder) and len(read_index(folder).table) == 10


def test_a_failing_render_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_render(*args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(writer, "render_face", failing_render)
    cfg = SyntheticConfig(num_subjects=3, frames_per_subject=4, image_size=32, num_folds=1)
    with pytest.raises(RuntimeError, match="renderer failed"):
        generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)
    assert list((tmp_path / "synthetic").iterdir()) == []


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="synthetic.modality='depth'"):
        SyntheticConfig(modality="depth")
    with pytest.raises(ValueError, match="num_folds"):
        SyntheticConfig(num_subjects=2, num_folds=3)


def test_cli_generates_reuses_and_writes_previews(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--subjects", "2", "--frames", "12", "--size", "48", "--folds", "2"]
    argv += ["--root", str(tmp_path), "--workers", "1"]
    folder = cli_main([*argv, "--preview-dir", str(tmp_path / "previews")])
    out = capsys.readouterr().out
    assert "generated 24 frames in" in out and str(folder) in out and "AU25" in out
    for name in ("preview_au_intensities.png", "preview_frames.png"):
        assert cv2.imread(str(tmp_path / "previews" / name)).size > 0
    cli_main(argv)
    assert "reusing" in capsys.readouterr().out
    cfg = SyntheticConfig(num_subjects=2, frames_per_subject=12, image_size=48, num_folds=2)
    assert folder == writer.dataset_folder(cfg, tmp_path)
