"""DISFA: labels, folds, crops, the SN010 frame-count case, resumability and bad input."""

import logging

import cv2
import pytest

from au.aus import DISFA_AUS
from au.data.index import read_index
from au.prepare import PrepareError, prepare, reader_base
from au.prepare import disfa as disfa_module

from .fixtures import (
    assert_crops_centred,
    bright_centroid,
    disfa_value,
    make_disfa,
    template_face_centre,
)

SUBJECTS = {"SN001": 5, "SN013": 4, "SN003": 4}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("disfa")
    raw = make_disfa(root / "raw", {**SUBJECTS, "SN010": 4}, label_lines={"SN010": 5})
    return read_index(prepare("disfa", raw, root / "out", crop_size=64))


def test_labels_are_the_released_intensities_line_by_line(prepared):
    table = prepared.table
    assert len(table) == 5 + 4 + 4 + 4
    row = table[(table["subject"] == "SN013") & (table["frame"] == 2)].iloc[0]
    assert [row[au] for au in DISFA_AUS] == [disfa_value("SN013", j, 2) for j in range(12)]
    assert prepared.meta["label_type"] == "intensity"
    assert prepared.meta["positive_threshold"] == 2
    labels, mask = prepared.labels(["AU1", "AU12", "AU7"])
    expected = [
        disfa_value(s, 0, f) >= 2 for s, f in zip(table["subject"], table["frame"], strict=True)
    ]
    assert labels[:, 0].tolist() == expected
    assert mask[:, :2].all() and not mask[:, 2].any()  # AU7 is not a DISFA AU: masked


def test_subjects_are_in_the_standard_folds(prepared):
    folds = prepared.table.groupby("subject")["fold"].first().to_dict()
    assert folds == {"SN001": 1, "SN010": 1, "SN013": 2, "SN003": 3}
    assert prepared.meta["folds"] == {"1": ["SN001", "SN010"], "2": ["SN013"], "3": ["SN003"]}
    assert prepared.meta["num_folds"] == 3 and prepared.meta["channels"] == 3


def test_crops_exist_at_crop_size_with_the_face_on_the_template(prepared):
    assert_crops_centred(prepared, 64, at=template_face_centre(64))  # (32.0, 36.9)
    assert prepared.meta["crop_geometry"] == {"method": "template5", "margin": 0.15}


def test_sn010_one_frame_fewer_drops_the_last_label_line(prepared):
    sn010 = prepared.table[prepared.table["subject"] == "SN010"]
    assert sn010["frame"].tolist() == [0, 1, 2, 3]


def test_released_folder_and_file_name_variants(tmp_path):
    raw = make_disfa(
        tmp_path / "raw",
        {"SN002": 3},
        video_dir="Video_LeftCamera",
        video_suffix="",
        landmark_dir="frame_lm",
        landmark_names="l0",
        flat_labels=True,
    )
    index = read_index(prepare("disfa", raw, tmp_path / "out", crop_size=48))
    assert index.table["frame"].tolist() == [0, 1, 2]
    x, y = bright_centroid(cv2.imread(str(index.image_paths()[2])))
    centre = template_face_centre(48)
    assert abs(x - centre[0]) < 1.5 and abs(y - centre[1]) < 1.5  # 1-based l0 files: right frame


def test_both_cameras_use_the_detector_for_the_right_one(tmp_path):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    (raw / "Videos_RightCamera").mkdir()
    left = raw / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi"
    (raw / "Videos_RightCamera" / "RightVideoSN001_comp.avi").write_bytes(left.read_bytes())
    index = read_index(prepare("disfa", raw, tmp_path / "out", crop_size=32, camera="both"))
    assert index.table["camera"].tolist() == ["left", "left", "right", "right"]
    assert all(cv2.imread(str(p)).shape == (32, 32, 3) for p in index.image_paths())


def test_rerun_skips_finished_subjects_and_redoes_an_interrupted_one(tmp_path, monkeypatch):
    raw = make_disfa(tmp_path / "raw", {"SN001": 3, "SN002": 3})
    out = tmp_path / "out"
    real_write = reader_base.write_image  # every reader's crops are written there

    def interrupt_in_sn002(path, image):
        if "SN002" in str(path):
            raise KeyboardInterrupt
        real_write(path, image)

    monkeypatch.setattr(reader_base, "write_image", interrupt_in_sn002)
    with pytest.raises(KeyboardInterrupt):
        prepare("disfa", raw, out, crop_size=32)
    assert not (out / "index.csv").exists() and (out / ".parts" / "SN001.json").exists()

    monkeypatch.setattr(reader_base, "write_image", real_write)
    done = []
    real_subject = disfa_module._prepare_subject
    monkeypatch.setattr(
        disfa_module, "_prepare_subject", lambda s, **kw: done.append(s) or real_subject(s, **kw)
    )
    first = read_index(prepare("disfa", raw, out, crop_size=32)).table
    assert done == ["SN002"] and len(first) == 6
    second = read_index(prepare("disfa", raw, out, crop_size=32)).table
    assert done == ["SN002"] and second.equals(first)  # idempotent, nothing redone
    prepare("disfa", raw, out, crop_size=32, force=True)
    assert done == ["SN002", "SN001", "SN002"]


def test_a_frame_count_mismatch_above_one_names_video_and_label_file(tmp_path):
    raw = make_disfa(tmp_path / "raw", {"SN001": 3}, label_lines={"SN001": 6})
    with pytest.raises(
        PrepareError, match=r"LeftVideoSN001_comp\.avi has 3 frames.*SN001_au1\.txt"
    ):
        prepare("disfa", raw, tmp_path / "out")


def test_a_truncated_video_is_reported(tmp_path):
    raw = make_disfa(tmp_path / "raw", {"SN001": 6})
    video = raw / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(PrepareError, match=r"LeftVideoSN001_comp\.avi.*truncated"):
        prepare("disfa", raw, tmp_path / "out")
    video.write_bytes(b"not a video at all")
    with pytest.raises(PrepareError, match=r"cannot open video .*LeftVideoSN001_comp\.avi"):
        prepare("disfa", raw, tmp_path / "out")


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("Videos_LeftCamera/LeftVideoSN001_comp.avi", r"video of SN001 not found.*LeftVideoSN001"),
        ("ActionUnit_Labels/SN001/SN001_au12.txt", r"AU12 label file not found.*SN001_au12\.txt"),
        ("Landmark_Points/SN001", r"no DISFA landmark file for SN001"),
    ],
)
def test_a_missing_file_is_named(tmp_path, remove, message):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    target = raw / remove
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(PrepareError, match=message):
        prepare("disfa", raw, tmp_path / "out")


def test_a_bad_label_value_and_a_wrong_root_are_named(tmp_path):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2})
    (raw / "ActionUnit_Labels/SN001/SN001_au4.txt").write_text("1,0\n2,7\n")
    with pytest.raises(PrepareError, match=r"SN001_au4\.txt, line 2: label '7'"):
        prepare("disfa", raw, tmp_path / "out")
    with pytest.raises(PrepareError, match="DISFA label folder not found"):
        prepare("disfa", tmp_path, tmp_path / "out")


def test_sn010_mismatch_is_warned_naming_the_files(tmp_path, caplog):
    raw = make_disfa(tmp_path / "raw", {"SN010": 3}, label_lines={"SN010": 4})
    caplog.set_level(logging.WARNING, logger="au.prepare")
    prepare("disfa", raw, tmp_path / "out", crop_size=32)
    assert "LeftVideoSN010_comp.avi has 3 frames" in caplog.text
    assert "SN010_au1.txt has 4 label lines" in caplog.text


def test_a_frame_without_landmark_file_reuses_the_previous_frames(tmp_path, caplog):
    raw = make_disfa(tmp_path / "raw", {"SN031": 3})
    (raw / "Landmark_Points/SN031/tmp_frame_lm/SN031_0001_lm.mat").unlink()
    caplog.set_level(logging.WARNING, logger="au.prepare")
    index = read_index(prepare("disfa", raw, tmp_path / "out", crop_size=32))
    assert len(index.table) == 3
    assert "SN031: 1 frames have no landmark file" in caplog.text


def test_worker_processes_give_the_same_index_and_the_same_errors(tmp_path, prepared):
    raw = make_disfa(tmp_path / "raw", {"SN001": 5, "SN003": 4})
    index = read_index(prepare("disfa", raw, tmp_path / "out", crop_size=64, workers=2))
    expected = prepared.table[prepared.table["subject"].isin(["SN001", "SN003"])]
    assert index.table.reset_index(drop=True).equals(expected.reset_index(drop=True))
    (raw / "Videos_LeftCamera/LeftVideoSN003_comp.avi").unlink()
    with pytest.raises(PrepareError, match="video of SN003 not found"):
        prepare("disfa", raw, tmp_path / "out2", workers=2)


def test_a_grayscale_video_gives_single_channel_crops(tmp_path):
    raw = make_disfa(tmp_path / "raw", {"SN001": 2}, gray=True)
    index = read_index(prepare("disfa", raw, tmp_path / "out", crop_size=32))
    assert index.meta["channels"] == 1
    crop = cv2.imread(str(index.image_paths()[0]), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (32, 32)
