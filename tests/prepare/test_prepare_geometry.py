"""Crop geometry in au.prepare: the 5 template points by default where a release gives
landmarks (as au.predict aligns MTCNN faces), the older square around the landmarks on request,
and what ``index.json`` records of it (``crop_geometry``)."""

import logging

import numpy as np
import pytest

from au.alignment import CropGeometry
from au.data.index import read_index
from au.prepare import PrepareError, prepare
from au.prepare.__main__ import main
from au.prepare.reader_base import CropWriter, landmark_geometry

from .fixtures import (
    AXES,
    CELEBA_AXES,
    CELEBA_FIVE,
    assert_crops_centred,
    make_bosphorus,
    make_bp4d,
    make_celeba,
    make_disfa,
    make_disfa_plus,
    template_face_centre,
)
from .test_prepare_fer2013 import CSV_ROWS, write_fer_csv

TEMPLATE5 = {"method": "template5", "margin": 0.15}
BOX = {"method": "box", "margin": 0.15}


def release(name, root):
    """A tiny release of reader ``name`` with landmarks, and its face's axes and 5 points."""
    if name == "disfa":
        return make_disfa(root, {"SN001": 2}), AXES, None
    if name == "disfa_plus":
        return make_disfa_plus(root, {"SN001": {"A1_AU1_TrailNo_1": 2}}), AXES, None
    if name == "celeba":
        return make_celeba(root), CELEBA_AXES, CELEBA_FIVE
    return make_bosphorus(root, {"bs000": ["N_N_0", "LFAU_12_0"]}), AXES, None


#: Reader -> (landmarks per face, margin of its eyes crops).
LANDMARK_READERS = {"disfa": (66, 0.15), "disfa_plus": (49, 0.15), "celeba": (5, 0.55),
                    "bosphorus": (22, 0.15)}  # fmt: skip


@pytest.mark.parametrize("name", sorted(LANDMARK_READERS))
def test_landmark_readers_put_the_5_points_on_the_template_by_default(name, tmp_path):
    raw, axes, five = release(name, tmp_path / "raw")
    index = read_index(prepare(name, raw, tmp_path / "out", crop_size=48))
    assert index.meta["crop_geometry"] == TEMPLATE5
    five = {} if five is None else {"five": five}
    assert_crops_centred(index, 48, at=template_face_centre(48, axes, **five))


@pytest.mark.parametrize("name", sorted(LANDMARK_READERS))
def test_the_eyes_geometry_keeps_the_square_around_the_landmarks(name, tmp_path):
    raw, _, _ = release(name, tmp_path / "raw")
    index = read_index(prepare(name, raw, tmp_path / "out", crop_size=48, crop_geometry="eyes"))
    landmarks, margin = LANDMARK_READERS[name]
    expected = {"method": "eyes", "margin": margin, "landmarks": landmarks}
    assert index.meta["crop_geometry"] == expected
    assert_crops_centred(index, 48)  # the fixture face fills the landmarks' square


def test_faces_from_detector_boxes_are_recorded_as_box_crops(tmp_path):
    raw = make_disfa(tmp_path / "disfa", {"SN001": 2})
    (raw / "Videos_RightCamera").mkdir()
    left = raw / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi"
    (raw / "Videos_RightCamera" / "RightVideoSN001_comp.avi").write_bytes(left.read_bytes())
    both = read_index(prepare("disfa", raw, tmp_path / "both", crop_size=32, camera="both"))
    assert both.meta["crop_geometry"] == TEMPLATE5 and both.meta["crop_geometry_fallback"] == BOX
    right = read_index(prepare("disfa", raw, tmp_path / "right", crop_size=32, camera="right"))
    assert right.meta["crop_geometry"] == BOX and "crop_geometry_fallback" not in right.meta
    left_only = read_index(prepare("disfa", raw, tmp_path / "left", crop_size=32))
    assert "crop_geometry_fallback" not in left_only.meta
    bp4d = make_bp4d(tmp_path / "bp4d", {"F001": {"T1": range(1, 3)}})
    assert (
        read_index(prepare("bp4d", bp4d, tmp_path / "b", crop_size=32)).meta["crop_geometry"] == BOX
    )


def test_fer2013_records_its_released_crops(tmp_path):
    csv = write_fer_csv(tmp_path / "fer2013.csv", CSV_ROWS)
    index = read_index(prepare("fer2013-csv", csv, tmp_path / "out"))
    assert index.meta["crop_geometry"] == {"method": "released"}


def test_a_bosphorus_file_without_a_nose_tip_is_cut_around_its_landmarks(tmp_path, caplog):
    raw = make_bosphorus(tmp_path / "raw", {"bs000": ["N_N_0"]})
    lm2 = raw / "BosphorusDB" / "bs000" / "bs000_N_N_0.lm2"
    lines = lm2.read_text().splitlines()
    nose = lines.index("Nose tip")
    coordinates = lines.index("2D Image coordinates:") + 1 + (nose - lines.index("Labels:") - 1)
    del lines[coordinates], lines[nose]
    lm2.write_text("\n".join(lines).replace("22 landmarks:", "21 landmarks:") + "\n")
    caplog.set_level(logging.WARNING, logger="au.prepare")
    index = read_index(prepare("bosphorus", raw, tmp_path / "out", crop_size=48))
    assert (
        "bs000: 1 files lack one of the 5 template points; cut as eyes (margin 0.15, on 22 "
        "landmarks): bs000_N_N_0.png" in caplog.text
    )
    assert index.meta["crop_geometry_fallback"] == {
        "method": "eyes",
        "margin": 0.15,
        "landmarks": 22,
    }
    assert_crops_centred(index, 48)  # the square around the 21 landmarks left


def test_landmark_geometry_from_the_options():
    assert landmark_geometry(None, True, landmarks=66) == CropGeometry("template5", 0.15)
    assert landmark_geometry(None, False, landmarks=66) == CropGeometry("box", 0.15, 66)
    assert landmark_geometry("eyes", True, landmarks=5, margin=0.55) == CropGeometry(
        "eyes", 0.55, 5
    )
    assert landmark_geometry("template5", True, landmarks=5, margin=0.55).margin == 0.15
    with pytest.raises(PrepareError) as caught:
        landmark_geometry("eyes", False, landmarks=66)
    assert str(caught.value) == (
        "--no-rotate asks for upright crops but --crop-geometry eyes levels the eyes: give one "
        "of them (--no-rotate is --crop-geometry box)"
    )
    with pytest.raises(PrepareError, match="must be one of template5, eyes, box, not 'arcface'"):
        landmark_geometry("arcface", True, landmarks=66)


def test_template5_needs_a_landmark_scheme_with_known_template_points(tmp_path):
    writer = CropWriter(tmp_path, 32, True, CropGeometry("template5"))
    points = np.random.default_rng(0).uniform(20, 80, (10, 2))
    with pytest.raises(PrepareError) as caught:
        writer.from_points(np.zeros((100, 100), np.uint8), points)
    assert str(caught.value) == (
        "10 landmarks: not a scheme whose 5 template points au knows (5, 49, 66 or 68 points); "
        "prepare with --crop-geometry eyes"
    )


def test_command_line_crop_geometry(tmp_path, capsys):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    out = tmp_path / "out"
    assert main(["disfa", "--raw", str(raw), "--out", str(out), "--crop-geometry", "box"]) == 0
    assert read_index(out).meta["crop_geometry"] == {
        "method": "box",
        "margin": 0.15,
        "landmarks": 66,
    }
    capsys.readouterr()
    assert main(["bp4d", "--raw", str(tmp_path), "--crop-geometry", "eyes"]) == 2
    assert capsys.readouterr().err == (
        "error: --crop-geometry applies to bosphorus, celeba, disfa, disfa_plus only, not bp4d "
        "(it does not crop from landmarks)\n"
    )
    args = ["disfa", "--raw", str(raw), "--no-rotate", "--crop-geometry", "template5"]
    assert main(args) == 2
    assert "error: --no-rotate asks for upright crops" in capsys.readouterr().err
    assert main(["disfa", "--raw", str(raw), "--camera", "right", "--crop-geometry", "eyes"]) == 2
    assert capsys.readouterr().err == (
        "error: --crop-geometry has no effect with --camera right: the right camera has no "
        "released landmarks, so its crops come from face-detector boxes and are never rotated\n"
    )
