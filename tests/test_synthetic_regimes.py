"""The still regimes of the synthetic benchmark: posed (CK+-like) and wild (FER-2013-like) sets."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from functools import cache
from pathlib import Path

import cv2
import pandas as pd
import pytest
from omegaconf import OmegaConf

from au.aus import DISFA_AUS
from au.data.datamodule import AUDataModule
from au.data.index import read_index
from au.data.synthetic import SyntheticConfig, generate_synthetic, writer
from au.data.synthetic.__main__ import main as cli_main
from au.emotions import BASIC_EMOTIONS

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "data"
EMOTIONS_POSED = ("happiness", "sadness", "surprise", "fear", "anger", "disgust")


@cache
def posed_table(num_subjects: int = 12) -> pd.DataFrame:
    """Labels of a posed set (planning only, no rendering)."""
    return writer.label_table(SyntheticConfig.for_regime("posed", num_subjects=num_subjects))


@cache
def wild_table(num_subjects: int = 600) -> pd.DataFrame:
    """Labels of a wild set (planning only, no rendering)."""
    return writer.label_table(SyntheticConfig.for_regime("wild", num_subjects=num_subjects))


def test_posed_has_the_identities_and_frames_asked_for() -> None:
    table = posed_table()
    assert len(table) == 120 and table["subject"].nunique() == 12
    assert (table.groupby("subject").size() == 10).all()
    assert "other" not in set(table["emotion"])
    for _, frames in table.groupby("subject"):
        # frame 0 neutral, then each emotion once at its apex and three of them near their apex
        emotions = frames["emotion"]
        assert emotions.iloc[0] == "neutral" and (emotions == "neutral").sum() == 1
        apex = frames[frames["phase"] == "apex"]
        assert sorted(apex["emotion"]) == sorted(EMOTIONS_POSED)
        near = frames[frames["phase"] == "near_apex"]
        assert len(near) == 3 and set(near["emotion"]) <= set(EMOTIONS_POSED)
    counts = table["emotion"].value_counts()
    assert counts["neutral"] == 12 and counts.drop("neutral").sum() == 108


def test_posed_apex_labels_follow_the_prototype() -> None:
    table = posed_table()
    codes = table[list(DISFA_AUS)]
    # Surprise is 1+2+5+26 (+25): gains 1, 1, 0.7, 0.9, 1 at an apex level of 3.6-5 (x0.9-1.1),
    # so the weakest (AU5) is at least 3.6 * 0.7 * 0.9 = 2.27, code 2; resting AUs stay code 0.
    surprise = codes[(table["emotion"] == "surprise") & (table["phase"] == "apex")]
    moved = ["AU1", "AU2", "AU5", "AU25", "AU26"]
    assert len(surprise) == 12 and (surprise[moved] >= 2).all().all()
    assert (surprise.drop(columns=moved) == 0).all().all()
    assert (codes[table["emotion"] == "neutral"] == 0).all().all()
    happiness = codes[(table["emotion"] == "happiness") & (table["phase"] == "apex")]
    assert (happiness[["AU6", "AU12"]] >= 2).all().all()
    assert (happiness.drop(columns=["AU6", "AU12", "AU25"]) == 0).all().all()


def test_posed_sessions_are_lab_conditions() -> None:
    table = posed_table()
    assert (table["low_light"] == 0).all() and (table["occlusion"] == "none").all()
    assert table["yaw"].abs().max() <= 10 and (table["modality"] == "gray").all()
    lighting = table.groupby("subject")[["light_level", "glasses"]].nunique()
    assert (lighting == 1).all().all()  # one session per identity


def test_folds_are_by_identity() -> None:
    for table in (posed_table(), wild_table()):
        assert (table.groupby("subject")["fold"].nunique() == 1).all()
        per_fold = table.groupby("fold")["subject"].nunique()
        assert sorted(per_fold.index) == [1, 2, 3] and per_fold.max() - per_fold.min() <= 1


def test_posed_set_renders_gray_crops_at_the_source_size(tmp_path: Path) -> None:
    cfg = SyntheticConfig.for_regime("posed", num_subjects=3)
    folder = generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)
    index = read_index(folder)
    assert folder.name.startswith("posed-gray-d1-") and len(index.table) == 30
    assert index.meta["name"] == "synthetic_posed" and index.meta["channels"] == 1
    for path in index.image_paths()[:10]:
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (64, 64)
    emotions = index.emotion_labels(list(BASIC_EMOTIONS))
    assert (emotions >= 0).all() and (emotions == 0).sum() == 3  # task=emotion reads every row
    folds = index.meta["folds"]
    assert sorted(s for subjects in folds.values() for s in subjects) == ["S01", "S02", "S03"]


def test_the_data_module_splits_a_regime_by_identity(tmp_path: Path) -> None:
    cfg = SyntheticConfig.for_regime("posed", num_subjects=6, image_size=32)
    generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)  # no worker processes
    synthetic = asdict(cfg)
    module = AUDataModule(synthetic=synthetic, data_root=str(tmp_path), channels=1, image_size=32)
    module.setup()
    assert module.index.meta["regime"] == "posed"
    splits = [set(module.subjects[split]) for split in ("train", "val", "test")]
    assert sum(len(s) for s in splits) == 6 and not (splits[0] & splits[1] | splits[0] & splits[2])
    assert module.datasets["test"][0]["image"].shape == (1, 32, 32)


def test_wild_has_one_still_per_identity_and_every_emotion() -> None:
    table = wild_table()
    assert len(table) == 600 and table["subject"].nunique() == 600
    assert table["subject"].iloc[0] == "S001"
    counts = table["emotion"].value_counts()
    assert set(counts.index) == set(BASIC_EMOTIONS) and (counts > 0).all()
    # FER-2013 shares (happiness 25.1%, disgust 1.5%), stratified: within a few frames of them
    assert abs(counts["happiness"] - 0.2513 * 600) <= 6 and abs(counts["disgust"] - 9.1) <= 3
    assert set(table["phase"]) == {"neutral", "onset", "apex", "offset"}
    assert (table.loc[table["emotion"] == "neutral", list(DISFA_AUS)] == 0).all().all()


def test_wild_conditions_vary_within_their_bounds() -> None:
    table = wild_table()
    # Levels 1-3 drawn uniformly: low light (3 + 15 + 35) / 3 = 17.7%, occluded
    # (0 + 8 + 30) / 3 = 12.7%, |yaw| >= 15 about (0 + 9.6 + 35) / 3 = 14.9%; 600 frames
    # leave a standard error of about 1.5 points.
    assert 0.12 <= table["low_light"].mean() <= 0.24
    assert 0.08 <= (table["occlusion"] != "none").mean() <= 0.18
    assert 0.10 <= (table["yaw"].abs() >= 15).mean() <= 0.20
    shares = table["difficulty"].value_counts(normalize=True)
    assert sorted(shares.index) == [1, 2, 3] and shares.between(0.25, 0.42).all()
    assert table["resolution"].between(24, 48).all() and (table["resolution"] < 48).mean() > 0.9
    assert table["jpeg_quality"].min() < 40 and table["jpeg_quality"].max() > 90


def test_wild_set_renders_one_gray_still_per_identity(tmp_path: Path) -> None:
    cfg = SyntheticConfig.for_regime("wild", num_subjects=6)
    folder = generate_synthetic(cfg, root=tmp_path, workers=1, progress=False)
    index = read_index(folder)
    assert folder.name.startswith("wild-gray-d3-") and len(index.table) == 6
    assert list(index.table["path"][:2]) == ["images/S01/00000.jpg", "images/S02/00000.jpg"]
    images = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in index.image_paths()]
    assert {image.shape for image in images} == {(48, 48)}


def test_regimes_never_share_a_folder(tmp_path: Path) -> None:
    shared = dict(num_subjects=6, frames_per_subject=2, image_size=48, difficulty=1)
    folders = {
        regime: writer.dataset_folder(SyntheticConfig(regime=regime, **shared), tmp_path)
        for regime in writer.REGIMES
    }
    assert len(set(folders.values())) == 3 and folders["video"].name.startswith("rgb-d1-")
    assert folders["posed"].name.startswith("posed-rgb-d1-")


def test_editing_a_stills_module_leaves_the_video_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "synthetic"
    shutil.copytree(writer._PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(writer, "_PACKAGE_DIR", package)
    video, wild = SyntheticConfig(), SyntheticConfig.for_regime("wild")
    before = writer.config_hash(video), writer.config_hash(wild)
    (package / "wild.py").write_text("# edited\n", encoding="utf-8")
    assert writer.config_hash(video) == before[0] and writer.config_hash(wild) != before[1]
    (package / "render.py").write_text("# edited\n", encoding="utf-8")
    assert writer.config_hash(video) != before[0]


def test_config_rejects_a_bad_regime() -> None:
    with pytest.raises(ValueError, match=r"synthetic.regime='still': expected one of \['video'"):
        SyntheticConfig(regime="still")
    with pytest.raises(ValueError, match="at least 2 for regime posed"):
        SyntheticConfig(regime="posed", frames_per_subject=1)


@pytest.mark.parametrize("regime", ["posed", "wild"])
def test_data_configs_match_the_regime_defaults(regime: str) -> None:
    node = OmegaConf.load(CONFIGS / f"synthetic_{regime}.yaml")
    settings = OmegaConf.to_container(node.synthetic, resolve=True)
    assert SyntheticConfig(**settings) == SyntheticConfig.for_regime(regime)
    assert node.image_size == 112 and node.channels == 1


def test_cli_generates_a_regime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--regime", "posed", "--subjects", "3", "--frames", "3", "--size", "32"]
    previews = tmp_path / "previews"
    argv += ["--root", str(tmp_path), "--workers", "1", "--preview-dir", str(previews)]
    folder = cli_main(argv)
    out = capsys.readouterr().out
    assert "generated 9 frames in" in out and folder.name.startswith("posed-gray-d1-")
    assert "target %" not in out and "phase: apex 6, neutral 3" in out
    assert [p.name for p in previews.iterdir()] == ["preview_frames.png"]
    # 3 identities x (neutral + 2 apexes), each 32 px crop shown at 64 px with its caption
    grid = cv2.imread(str(previews / "preview_frames.png"))
    assert grid.shape[0] >= 3 * 64 and grid.shape[1] == 7 * (64 + 4)
