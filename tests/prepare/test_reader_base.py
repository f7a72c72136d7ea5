"""What the readers share (au/prepare/reader_base.py): the common options, the crop writer,
index rows, subject folds and the run that writes the index."""

import logging

import cv2
import numpy as np
import pandas as pd
import pytest

from au.alignment import CropGeometry
from au.data.index import read_index
from au.prepare import Part, PrepareError
from au.prepare.reader_base import (
    CommonOptions,
    CropWriter,
    common_options,
    folds_in_turn,
    label_table,
    prepare_units,
    subject_folds,
    warn_outside_split,
)

EYES = ((30, 40), (70, 60))  # image (x, y): the right eye is 20 px lower, 40 px to the right
FIVE_POINTS = np.array([*EYES, (50, 70), (40, 90), (60, 100)], float)  # eyes, nose, mouth


def two_eyes() -> np.ndarray:
    """A 120 x 120 gray image, black but for a white disc of radius 3 on each of ``EYES``."""
    image = np.zeros((120, 120), np.uint8)
    for eye in EYES:
        cv2.circle(image, eye, 3, 255, -1)
    return image


def blob_centres(crop: np.ndarray) -> list[tuple[float, float]]:
    """The (x, y) centres of the white discs of a crop, left to right."""
    _, _, _, centres = cv2.connectedComponentsWithStats((crop > 128).astype(np.uint8))
    return sorted((float(x), float(y)) for x, y in centres[1:])


# ---- the common options ---------------------------------------------------------------------
def test_common_options_fill_the_defaults_and_keep_what_is_given():
    assert common_options("disfa", {}) == CommonOptions(128, 1, False, None)
    assert common_options("fer2013-csv", {}, crop_size=None).crop_size is None
    given = {"crop_size": 32, "workers": 3, "force": True, "limit_subjects": ["SN001"]}
    assert common_options("disfa", given) == CommonOptions(32, 3, True, ["SN001"])


def test_rotate_to_a_reader_that_never_rotates_is_one_clear_error():
    for value in (True, False):
        with pytest.raises(PrepareError) as caught:
            common_options("bp4d", {"rotate": value}, never_rotated="no eyes in a box")
        assert str(caught.value) == (
            "bp4d takes no rotate option: its crops are never rotated (no eyes in a box)"
        )


def test_an_option_no_reader_takes_is_named():
    with pytest.raises(PrepareError) as caught:
        common_options("celeba", {"crop_size": 32, "camera": "left", "bogus": 1})
    assert str(caught.value) == (
        "celeba takes no option bogus, camera: the options every reader takes are crop_size, "
        "workers, force, limit_subjects, besides its own"
    )


# ---- the crop writer ------------------------------------------------------------------------
def test_landmark_crops_level_the_eyes_only_with_the_eyes_geometry(tmp_path):
    eyes = CropGeometry("eyes")
    level = blob_centres(CropWriter(tmp_path, 64, True, eyes).from_points(two_eyes(), FIVE_POINTS))
    tilted = blob_centres(CropWriter(tmp_path, 64, True).from_points(two_eyes(), FIVE_POINTS))
    assert level[0][1] == pytest.approx(level[1][1], abs=0.3)  # eyes on one row
    # not rotated: the points span 60 px in y, the crop 60 * 1.3 = 78 px in 64 pixels, so the
    # 20 px drop between the eyes becomes 20 * 64 / 78 = 16.41 px
    assert tilted[1][1] - tilted[0][1] == pytest.approx(20 * 64 / 78, abs=0.3)


def test_box_crops_are_never_rotated(tmp_path):
    crop = CropWriter(tmp_path, 64, True, CropGeometry("eyes")).from_box(
        two_eyes(), (30, 40, 40, 40)
    )
    # the 40 px box with a 0.15 margin each side is 52 px, centred on (50, 60): x -> 32 + (x -
    # 50) * 64 / 52, y -> 32 + (y - 60) * 64 / 52; the eyes stay 20 px * 64 / 52 apart in y
    scale = 64 / 52
    expected = [(32 - 20 * scale, 32 - 20 * scale), (32 + 20 * scale, 32.0)]
    assert np.allclose(blob_centres(crop), expected, atol=0.3)


def test_crops_are_written_with_the_data_sets_channels(tmp_path):
    colour = np.dstack([np.full((16, 16), v, np.uint8) for v in (50, 100, 150)])
    gray = CropWriter(tmp_path, 16, gray=True)
    assert gray.write("images/a/0.jpg", colour) == "images/a/0.jpg"
    written = cv2.imread(str(tmp_path / "images/a/0.jpg"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (16, 16) and abs(int(written[8, 8]) - 50) <= 1  # the first channel
    CropWriter(tmp_path, 16, gray=False).write("images/b/0.jpg", colour[:, :, 0])
    assert cv2.imread(str(tmp_path / "images/b/0.jpg"), cv2.IMREAD_UNCHANGED).shape == (16, 16, 3)
    table = pd.DataFrame({"path": ["x.jpg"]})
    assert (
        gray.part(table).channels == 1 and CropWriter(tmp_path, 16, False).part(table).channels == 3
    )


# ---- index rows and folds -------------------------------------------------------------------
def test_label_table_puts_the_leading_columns_first():
    table = label_table(
        np.array([[0, 3], [5, 1]]),
        ["AU1", "AU2"],
        path=["a.jpg", "b.jpg"],
        subject="S1",
        frame=[7, 8],
    )
    assert list(table.columns) == ["path", "subject", "frame", "AU1", "AU2"]
    assert table.to_dict("list") == {
        "path": ["a.jpg", "b.jpg"],
        "subject": ["S1", "S1"],
        "frame": [7, 8],
        "AU1": [0, 5],
        "AU2": [3, 1],
    }


def test_subject_folds_of_a_published_split_and_in_turn(caplog):
    split = subject_folds({1: ("A", "B"), 2: ("C",), 3: ("D",)})
    assert split == {"A": 1, "B": 1, "C": 2, "D": 3}
    assert folds_in_turn(["b", "d", "e"], ["a", "b", "c", "d", "e"]) == {"b": 2, "d": 1, "e": 2}
    caplog.set_level(logging.WARNING, logger="au.prepare")
    warn_outside_split(["A", "X", "C", "Y"], split, "TOY")
    assert caplog.messages == ["subjects ['X', 'Y'] are not in the standard TOY split: fold 0"]
    caplog.clear()
    warn_outside_split(["A", "D"], split, "TOY")
    assert caplog.messages == []


# ---- the run ----------------------------------------------------------------------------------
def toy_part(unit: str) -> Part:
    return Part(pd.DataFrame({"path": [f"{unit}.jpg"], "subject": [unit], "AU12": [1.0]}), 1)


def test_prepare_units_writes_the_index_and_skips_finished_units(tmp_path):
    meta = {"name": "toy", "label_type": "occurrence", "positive_threshold": 1, "aus": ["AU12"]}
    index = read_index(
        prepare_units(["s2", "s1"], toy_part, tmp_path, CommonOptions(), options={}, meta=meta)
    )
    assert index.table["subject"].tolist() == ["s2", "s1"]
    assert index.meta["name"] == "toy" and index.meta["channels"] == 1
    calls = []

    def counted(unit):
        calls.append(unit)
        return toy_part(unit)

    prepare_units(["s2", "s1"], counted, tmp_path, CommonOptions(), options={}, meta=meta)
    assert calls == []  # both finished with the same options
    prepare_units(["s2", "s1"], counted, tmp_path, CommonOptions(force=True), options={}, meta=meta)
    assert calls == ["s2", "s1"]
