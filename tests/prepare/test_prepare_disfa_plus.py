"""DISFA+: per-trial labels, crops from the released face crops, DISFA overlap and folds."""

import logging

import cv2
import pytest

from au.aus import DISFA_AUS
from au.data.index import read_index
from au.prepare import PrepareError, prepare

from .fixtures import (
    assert_crops_centred,
    disfa_plus_value,
    make_disfa_plus,
    template_face_centre,
)

TRIALS = {
    "SN001": {"A1_AU1_TrailNo_1": 3, "Z_SupriseText_TrailNo_2": 2},
    "SN004": {"B2_AU6_TrailNo_1": 2},
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("disfa_plus")
    raw = make_disfa_plus(root / "raw", TRIALS)
    return read_index(prepare("disfa_plus", raw, root / "out", crop_size=48))


def test_labels_follow_each_trial_file(prepared):
    table = prepared.table
    assert len(table) == 7
    for subject, trials in TRIALS.items():
        for k, trial in enumerate(sorted(trials)):
            rows = table[(table["subject"] == subject) & (table["trial"] == trial)]
            assert rows["frame"].tolist() == list(range(trials[trial]))
            for _, row in rows.iterrows():
                expected = [disfa_plus_value(k, j, row["frame"]) for j in range(12)]
                assert [row[au] for au in DISFA_AUS] == expected
    assert prepared.meta["positive_threshold"] == 2 and prepared.meta["label_type"] == "intensity"


def test_subjects_keep_their_disfa_fold(prepared):
    assert prepared.table.groupby("subject")["fold"].first().to_dict() == {"SN001": 1, "SN004": 3}
    assert prepared.meta["overlaps_disfa"] == ["SN001", "SN004"]


def test_crops_come_from_the_released_face_crop_and_landmarks(prepared):
    assert_crops_centred(prepared, 48, at=template_face_centre(48))  # the 49 points' 5


def test_the_overlap_with_disfa_is_warned(tmp_path, caplog):
    raw = make_disfa_plus(tmp_path / "raw", {"SN009": {"A1_AU1_TrailNo_1": 1}})
    caplog.set_level(logging.WARNING, logger="au.prepare")
    prepare("disfa_plus", raw, tmp_path / "out", crop_size=32)
    assert "DISFA+ subjects SN009 are also DISFA subjects" in caplog.text


def test_without_landmark_files_the_images_are_used(tmp_path):
    raw = make_disfa_plus(tmp_path / "raw", {"SN001": {"A1_AU1_TrailNo_1": 2}}, mat=False)
    index = read_index(prepare("disfa_plus", raw, tmp_path / "out", crop_size=40))
    assert [cv2.imread(str(p)).shape for p in index.image_paths()] == [(40, 40, 3)] * 2


def test_missing_or_inconsistent_label_files_are_named(tmp_path):
    raw = make_disfa_plus(tmp_path / "raw", {"SN001": {"A1_AU1_TrailNo_1": 2}})
    labels = raw / "Labels/SN001/A1_AU1_TrailNo_1"
    (labels / "AU9.txt").write_text("header\nheader\n000.jpg     1\n005.jpg     1\n")
    with pytest.raises(PrepareError, match=r"AU9\.txt labels other images"):
        prepare("disfa_plus", raw, tmp_path / "out")
    (labels / "AU9.txt").unlink()
    with pytest.raises(PrepareError, match=r"AU9 label file not found.*AU9\.txt"):
        prepare("disfa_plus", raw, tmp_path / "out")
