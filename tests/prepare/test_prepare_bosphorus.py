"""Bosphorus: AU targets from file names, .lm2 landmarks, rotation, optional pose/occlusion."""

import logging

import cv2
import numpy as np
import pytest

from au.data.index import read_index
from au.prepare import PrepareError, prepare
from au.prepare.bosphorus import BOSPHORUS_AUS, parse_name

from .fixtures import bright_centroid, make_bosphorus, template_face_centre

FILES = {
    "bs000": ["N_N_0", "N_N_1", "LFAU_12_0", "LFAU_12LW_0", "UFAU_2_0", "CAU_A22A25_0",
              "E_HAPPY_0", "YR_R10_0", "O_EYE_0", "LFAU_34_0"],
    "bs001": ["N_N_0", "LFAU_26_0"],
    "bs002": ["UFAU_1_0"],
}  # fmt: skip


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return make_bosphorus(tmp_path_factory.mktemp("bosphorus"), FILES, tilt={"N_N_1": 15.0})


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    return read_index(prepare("bosphorus", raw, tmp_path_factory.mktemp("out"), crop_size=48))


def row(index, stem):
    table = index.table
    return table[table["path"].str.endswith(f"{stem}.jpg")].iloc[0]


def test_file_names_parse():
    assert parse_name("bs001_LFAU_12LW_0") == ("LFAU", "12LW", 0)
    assert parse_name("bs001_CAU_A22A25_3") == ("CAU", "A22A25", 3)
    assert parse_name("bs001_N_N_2") == ("N", "N", 2)
    assert parse_name("readme") is None


def test_posed_aus_are_present_and_other_aus_masked(prepared):
    aus = list(BOSPHORUS_AUS)
    r = row(prepared, "bs000_LFAU_12_0")
    assert r["AU12"] == 1 and r[aus].isna().sum() == len(aus) - 1
    assert row(prepared, "bs000_LFAU_12LW_0")["AU12"] == 1  # side/weak suffix: still AU12
    combo = row(prepared, "bs000_CAU_A22A25_0")
    assert combo["AU22"] == 1 and combo["AU25"] == 1 and combo[aus].notna().sum() == 2
    assert row(prepared, "bs002_UFAU_1_0")["AU1"] == 1


def test_neutral_files_mark_every_au_absent_and_emotions_mask_them(prepared):
    neutral = row(prepared, "bs001_N_N_0")
    assert (neutral[list(BOSPHORUS_AUS)] == 0).all() and neutral["emotion"] == "neutral"
    happy = row(prepared, "bs000_E_HAPPY_0")
    assert happy[list(BOSPHORUS_AUS)].isna().all() and happy["emotion"] == "happiness"


def test_pose_occlusion_and_unknown_au_files_are_left_out_by_default(prepared):
    kinds = set(prepared.table["kind"])
    assert kinds == {"N", "LFAU", "UFAU", "CAU", "E"}
    assert len(prepared.table) == 10  # LFAU_34 (AU34 is outside au's vocabulary) is skipped
    assert prepared.table.groupby("subject")["fold"].first().to_dict() == {
        "bs000": 1,
        "bs001": 2,
        "bs002": 3,
    }


def test_crops_put_the_5_points_on_the_template_and_level_the_eyes(prepared):
    straight = cv2.imread(str(prepared.root / row(prepared, "bs000_N_N_0")["path"]))
    tilted = cv2.imread(str(prepared.root / row(prepared, "bs000_N_N_1")["path"]))
    assert straight.shape == (48, 48, 3)
    x, y = bright_centroid(straight)
    centre = template_face_centre(48)  # (24.0, 27.7)
    assert abs(x - centre[0]) < 1.5 and abs(y - centre[1]) < 1.5
    assert np.abs(straight.astype(float) - tilted).mean() < 6  # the 15 degree tilt is undone


def test_flags_add_pose_and_occlusion_and_unlisted_absent(raw, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="au.prepare")
    index = read_index(
        prepare(
            "bosphorus",
            raw,
            tmp_path / "out",
            crop_size=32,
            include_pose=True,
            include_occlusion=True,
            unlisted="absent",
            limit_subjects=["bs000"],
        )
    )
    assert "skipped 1 files coding AUs au does not label: bs000_LFAU_34_0.png" in caplog.text
    assert {"YR", "O"} <= set(index.table["kind"])
    assert row(index, "bs000_YR_R10_0")[list(BOSPHORUS_AUS)].isna().all()
    lfau = row(index, "bs000_LFAU_12_0")
    assert lfau["AU12"] == 1 and lfau[list(BOSPHORUS_AUS)].sum() == 1
    assert lfau[list(BOSPHORUS_AUS)].notna().all()


def test_missing_or_malformed_lm2_is_named(tmp_path):
    raw = make_bosphorus(tmp_path / "raw", {"bs003": ["N_N_0"]})
    lm2 = raw / "BosphorusDB/bs003/bs003_N_N_0.lm2"
    lm2.write_text("# LM2\n\n22 landmarks:\nLabels:\nNose tip\n")
    with pytest.raises(PrepareError, match=r"cannot parse .*bs003_N_N_0\.lm2"):
        prepare("bosphorus", raw, tmp_path / "out")
    lm2.unlink()
    with pytest.raises(PrepareError, match=r"\.lm2 landmark file not found.*bs003_N_N_0\.lm2"):
        prepare("bosphorus", raw, tmp_path / "out")


def test_single_channel_images_stay_single_channel(tmp_path, prepared):
    raw = make_bosphorus(tmp_path / "raw", {"bs000": ["N_N_0"]}, gray=True)
    index = read_index(prepare("bosphorus", raw, tmp_path / "out", crop_size=32))
    assert index.meta["channels"] == 1 and prepared.meta["channels"] == 3
    crop = cv2.imread(str(index.image_paths()[0]), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (32, 32)
