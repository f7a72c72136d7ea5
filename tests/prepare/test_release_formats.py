"""Releases as they really are: BP4D images numbered from 0, "Landmarks" in Bosphorus files,
an empty FER-2013 CSV, and ``rotate`` only where crops are rotated."""

import logging

import cv2
import numpy as np
import pytest

from au.data.index import read_index
from au.prepare import PrepareError, prepare, registered_readers
from au.prepare.__main__ import build_parser, main, options_of, takes_rotate
from au.prepare.bosphorus import read_lm2

from .fixtures import BOSPHORUS_LANDMARKS, bp4d_value, make_bosphorus, make_bp4d, write_lm2


def grey_level(image_number: int) -> int:
    """The uniform grey of BP4D test image ``image_number``: each image tells its number."""
    return 20 + 10 * image_number


def make_numbered_bp4d(raw, frames, first_image: int, task="T1", subject="F001"):
    """A BP4D task coded on CSV ``frames``, with a uniform image for every number from
    ``first_image`` to the last frame (as in the release, the whole sequence is there)."""
    make_bp4d(raw, {subject: {task: frames}})
    folder = raw / "Sequences" / subject / task
    for path in folder.iterdir():
        path.unlink()
    for number in range(first_image, max(frames) + 1):
        image = np.full((60, 60, 3), grey_level(number), np.uint8)
        cv2.imwrite(str(folder / f"{number:04d}.jpg"), image)
    return raw


def crop_levels(index) -> list[int]:
    """The grey at the centre of each crop (its border may be padding beyond the frame)."""
    return [int(cv2.imread(str(p))[16, 16, 0]) for p in index.image_paths()]


# ---- BP4D: the image numbering ---------------------------------------------------------------
def test_bp4d_images_numbered_from_0000_are_matched_to_csv_frames_minus_one(tmp_path, caplog):
    raw = make_numbered_bp4d(tmp_path / "raw", range(1, 5), first_image=0)
    caplog.set_level(logging.INFO, logger="au.prepare")
    index = read_index(prepare("bp4d", raw, tmp_path / "out", crop_size=32))
    assert index.table["frame"].tolist() == [1, 2, 3, 4]
    assert crop_levels(index) == [grey_level(f - 1) for f in (1, 2, 3, 4)]  # 0000.jpg = frame 1
    assert "images numbered from 0 (0000.jpg is CSV frame 1) in 1 folders" in caplog.text
    assert "using --frame-offset -1" in caplog.text and index.meta["frame_offset"] == -1
    assert index.table["AU1"].fillna(9).tolist() == [bp4d_value(1, f) for f in (1, 2, 3, 4)]


def test_bp4d_images_numbered_as_the_csv_keep_offset_0(tmp_path, caplog):
    raw = make_numbered_bp4d(tmp_path / "raw", range(1, 5), first_image=1)
    caplog.set_level(logging.INFO, logger="au.prepare")
    index = read_index(prepare("bp4d", raw, tmp_path / "out", crop_size=32))
    assert crop_levels(index) == [grey_level(f) for f in (1, 2, 3, 4)]
    assert "images numbered as the CSV frames in 1 folders: using --frame-offset 0" in caplog.text


def test_bp4d_mixed_numbering_asks_for_the_offset_and_a_given_one_is_used(tmp_path, caplog):
    raw = make_numbered_bp4d(tmp_path / "raw", range(1, 4), first_image=0)
    make_numbered_bp4d(raw, range(1, 4), first_image=1, subject="M011")
    with pytest.raises(PrepareError, match=r"cannot tell the BP4D image numbering .*--frame-off"):
        prepare("bp4d", raw, tmp_path / "out", crop_size=32)
    caplog.set_level(logging.INFO, logger="au.prepare")
    index = read_index(prepare("bp4d", raw, tmp_path / "out", crop_size=32, frame_offset=-1))
    f001 = index.table["subject"] == "F001"
    assert crop_levels(index)[: f001.sum()] == [grey_level(f - 1) for f in (1, 2, 3)]
    assert "using --frame-offset -1 as given" in caplog.text


def test_bp4d_given_offset_that_disagrees_with_the_tree_is_warned(tmp_path, caplog):
    raw = make_numbered_bp4d(tmp_path / "raw", range(1, 4), first_image=0)
    caplog.set_level(logging.INFO, logger="au.prepare")
    prepare("bp4d", raw, tmp_path / "out", crop_size=32, frame_offset=0)
    assert "which implies --frame-offset -1, not 0" in caplog.text


# ---- Bosphorus: "Landmarks" in any case -------------------------------------------------------
@pytest.mark.parametrize("count_line", ["22 Landmarks:", "22 LANDMARKS:", "22 landmarks"])
def test_lm2_headers_match_in_any_case(tmp_path, count_line):
    path = tmp_path / "bs000_N_N_0.lm2"
    write_lm2(path, (100, 75))
    text = path.read_text().replace("22 landmarks:", count_line).replace("Labels:", "LABELS:")
    path.write_text(text.replace("2D Image coordinates:", "2D image coordinates:"))
    names, points = read_lm2(path)
    assert names == list(BOSPHORUS_LANDMARKS) and points.shape == (22, 2)
    assert points[names.index("Chin middle")] == pytest.approx([100, 75 + 0.7 * 34])


# ---- FER-2013: an empty CSV ---------------------------------------------------------------------
def test_empty_fer2013_csv_is_one_line(tmp_path, capsys):
    empty = tmp_path / "fer2013.csv"
    empty.write_bytes(b"")
    assert main(["fer2013-csv", "--raw", str(empty), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"error: {empty} is empty: expected FER-2013's CSV (header emotion,pixels,Usage, one "
        "row per face)\n"
    )
    assert not (tmp_path / "out").exists()


# ---- --no-rotate: only readers that rotate take it ----------------------------------------------
def test_no_rotate_goes_only_to_readers_that_rotate(tmp_path, capsys):
    rotating = sorted(n for n, reader in registered_readers().items() if takes_rotate(reader))
    assert rotating == ["bosphorus", "celeba", "disfa", "disfa_plus"]
    parse = build_parser().parse_args
    assert options_of(parse(["disfa", "--raw", "x", "--no-rotate"]))["rotate"] is False
    assert options_of(parse(["disfa", "--raw", "x"]))["rotate"] is True
    assert "rotate" not in options_of(parse(["bp4d", "--raw", "x"]))
    assert main(["bp4d", "--raw", str(tmp_path), "--no-rotate"]) == 2
    assert capsys.readouterr().err == (
        "error: --no-rotate applies to bosphorus, celeba, disfa, disfa_plus only, not bp4d "
        "(its crops are never rotated)\n"
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bp4d", "they come from face-detector boxes, which carry no eye positions"),
        ("fer2013-csv", "its faces are released as aligned crops without landmarks"),
        ("fer2013-folder", "its faces are released as aligned crops without landmarks"),
    ],
)
def test_rotate_to_a_reader_that_never_rotates_is_refused_in_python_too(tmp_path, name, why):
    for value in (True, False):  # refused before the release is read
        with pytest.raises(PrepareError) as caught:
            prepare(name, tmp_path / "no_release", tmp_path / "out", rotate=value)
        assert (
            str(caught.value)
            == f"{name} takes no rotate option: its crops are never rotated ({why})"
        )
    assert not (tmp_path / "out").exists()


def test_no_rotate_with_only_the_right_disfa_camera_is_refused(tmp_path, capsys):
    assert main(["disfa", "--raw", str(tmp_path), "--camera", "right", "--no-rotate"]) == 2
    assert capsys.readouterr().err == (
        "error: --no-rotate has no effect with --camera right: the right camera has no released "
        "landmarks, so its crops come from face-detector boxes and are never rotated\n"
    )
    with pytest.raises(PrepareError, match="no effect with --camera right"):
        prepare("disfa", tmp_path, tmp_path / "out", camera="right", rotate=False)


def test_no_rotate_keeps_a_tilted_bosphorus_face_tilted(tmp_path):
    raw = make_bosphorus(tmp_path / "raw", {"bs000": ["N_N_0", "N_N_1"]}, tilt={"N_N_1": 15.0})
    crops = {}
    for name, options in (("eyes", {"crop_geometry": "eyes"}), ("upright", {"rotate": False})):
        index = read_index(prepare("bosphorus", raw, tmp_path / name, crop_size=48, **options))
        crops[name] = [cv2.imread(str(p)).astype(float) for p in index.image_paths()]
    (straight, levelled), (straight_kept, tilted) = crops["eyes"], crops["upright"]
    assert np.array_equal(straight, straight_kept)  # level eyes: nothing to rotate either way
    assert np.abs(straight - levelled).mean() < 6  # the 15 degree tilt undone
    assert np.abs(straight - tilted).mean() > 30  # ... or kept (measured: 3.9 and 37.3)
