"""5-point alignment, head pose, and the landmark and pose columns / drawings of au.predict."""

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from au.alignment import ARCFACE_TEMPLATE, align_face, landmark_affine, template_points
from au.inference.annotate import annotate_frame
from au.inference.faces import FaceBox, clip_box, square_box
from au.inference.media import Frame, Source
from au.inference.pipeline import PredictionRunner
from au.inference.pose import FACE_MODEL, camera_matrix, eye_line_roll, head_pose, rotation_of
from au.inference.records import (
    FRAME_COLUMNS,
    LANDMARK_COLUMNS,
    FacePredictions,
    PredictionLayout,
    PredictionTable,
    face_rows,
)
from au.inference.tracking import blend

#: Landmarks of a frontal face in a 640x480 frame: eyes, nose tip, mouth corners.
FACE_POINTS = np.array([[300.0, 200.0], [340.0, 200.0], [320.0, 225.0], [305.0, 250.0],
                        [335.0, 250.0]])  # fmt: skip


def similarity(points: np.ndarray, degrees: float, scale: float, shift) -> np.ndarray:
    turn = math.radians(degrees)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    return scale * points @ rotation.T + np.asarray(shift)


# ---- alignment ----------------------------------------------------------------------------
def test_template_keeps_the_prepare_crop_geometry():
    np.testing.assert_allclose(template_points(112, margin=0.0), ARCFACE_TEMPLATE)
    # the 112 face box plus 15 % on each side: the same points, 16.8 px further in
    np.testing.assert_allclose(template_points(145.6, margin=0.15), ARCFACE_TEMPLATE + 16.8)


def test_points_turned_scaled_and_moved_map_exactly_onto_the_template():
    target = template_points(96)
    landmarks = similarity(target, degrees=-23.0, scale=2.7, shift=(140.0, 55.0))
    matrix = landmark_affine(landmarks, 96)
    mapped = landmarks @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, target, atol=1e-9)
    assert np.linalg.det(matrix[:, :2]) == pytest.approx((1 / 2.7) ** 2)  # no reflection


def test_aligned_crop_puts_the_marked_points_on_the_template():
    image = np.zeros((300, 400), np.uint8)
    landmarks = similarity(template_points(64), degrees=15.0, scale=3.0, shift=(80.0, 20.0))
    for x, y in landmarks.round().astype(int):
        cv2.circle(image, (int(x), int(y)), 4, 255, -1)
    crop = align_face(image, landmarks, 64)
    assert crop.shape == (64, 64)
    for x, y in template_points(64).round().astype(int):
        assert crop[y, x] == 255  # each dot's centre lands on its template point
    assert crop[2, 2] == 0


# ---- head pose ----------------------------------------------------------------------------
def test_roll_is_the_eye_line_angle_whatever_order_the_eyes_come_in():
    points = FACE_POINTS.copy()
    points[1] = [310.0, 210.0]  # right-hand eye 10 px right and 10 px lower: 45 degrees
    assert eye_line_roll(points) == pytest.approx(45.0)
    assert eye_line_roll(points[[1, 0, 2, 3, 4]]) == pytest.approx(45.0)
    rotated = similarity(FACE_POINTS - 320, degrees=-12.0, scale=1.0, shift=(320, 240))
    assert head_pose(rotated, 640, 480)[2] == pytest.approx(-12.0)


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (20.0, -8.0, 0.0), (-30.0, 12.0, 0.0)])
def test_pose_of_the_generic_face_seen_at_known_angles_is_recovered(angles):
    rotation, camera = rotation_of(*angles), camera_matrix(640, 480)
    seen = (FACE_MODEL @ rotation.T + [15.0, -10.0, 700.0]) @ camera.T
    yaw, pitch, roll = head_pose(seen[:, :2] / seen[:, 2:], 640, 480)
    assert (yaw, pitch) == pytest.approx(angles[:2], abs=1e-3)
    assert abs(roll) < 5.0  # yaw with pitch tilts the eye line a little (4.1 and 4.5 degrees)


def test_nose_towards_the_image_right_is_positive_yaw():
    points = FACE_POINTS.copy()
    points[2, 0] += 8  # the nose tip moves right of the eyes' and mouth's midline
    yaw, pitch, _ = head_pose(points, 640, 480)
    assert yaw > 5 and abs(pitch) < 10


# ---- outputs ------------------------------------------------------------------------------
def face_frame() -> Frame:
    return Frame(Source("video", "clip.mp4", "clip.mp4"), 3, 0.1, np.zeros((480, 640, 3), np.uint8))


def predictions(count: int) -> FacePredictions:
    return FacePredictions(np.zeros((count, 1)), np.array(["neutral"] * count))


def test_rows_hold_landmarks_and_pose_for_mtcnn_faces_and_nothing_for_haar(tmp_path):
    mtcnn = FaceBox(280, 170, 80, 100, 0.99, FACE_POINTS)
    haar = FaceBox(10, 10, 50, 50, 4.0)
    layout = PredictionLayout(emotions=("neutral",))
    rows = face_rows(face_frame(), [mtcnn, haar], predictions(2), layout)
    assert [rows[0][c] for c in LANDMARK_COLUMNS[:4]] == [300.0, 200.0, 340.0, 200.0]
    assert rows[0]["roll"] == 0.0 and rows[0]["yaw"] == pytest.approx(0.0, abs=1.0)
    with PredictionTable(tmp_path, layout.columns()) as table:
        table.write(rows)
    table_rows = pd.read_csv(tmp_path / "predictions.csv")
    columns = ["detector_score", *LANDMARK_COLUMNS, "yaw", "pitch", "roll", "emotion_neutral"]
    assert list(table_rows.columns[8:]) == [*columns, "top_emotion"]
    assert list(FRAME_COLUMNS[-13:]) == [*LANDMARK_COLUMNS, "yaw", "pitch", "roll"]
    assert table_rows.loc[0, "lm4_y"] == 250.0 and table_rows.loc[1, LANDMARK_COLUMNS].isna().all()
    assert table_rows.loc[1, ["yaw", "pitch", "roll"]].isna().all()


def test_boxes_keep_their_landmarks_through_squaring_clipping_and_tracking():
    face = FaceBox(280, 170, 80, 100, 0.99, FACE_POINTS)
    reported = clip_box(square_box(face, 0.15), 640, 480)
    # side 1.3 x 100 = 130 about the centre (320, 220)
    assert reported.landmarks is FACE_POINTS and reported == FaceBox(255, 155, 130, 130, 0.99)
    followed = blend(FaceBox(270, 160, 80, 100), face, 0.5)
    assert followed.landmarks is FACE_POINTS and (followed.x, followed.y) == (275, 165)


def test_annotated_frame_draws_the_five_points_in_the_box_colour():
    face = FaceBox(280, 170, 80, 100, 0.99, FACE_POINTS)
    image = annotate_frame(np.zeros((480, 640, 3), np.uint8), [face], ["happiness"], ["x"])
    for x, y in FACE_POINTS.astype(int):
        assert tuple(image[y, x]) == (255, 200, 0)
    assert image[225, 300].max() == 0  # between the points, inside the box: untouched


def test_predict_crops_mtcnn_faces_on_their_landmarks_when_aligning():
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    face = FaceBox(280, 170, 80, 100, 0.99, FACE_POINTS)
    detector = SimpleNamespace(image_size=48)
    for eyes, expected in ((object(), align_face(image, FACE_POINTS, 48, 0.15)), (None, None)):
        runner = PredictionRunner(detector, SimpleNamespace(eyes=eyes), table=None, margin=0.15)
        crop = runner._crop(image, face, roll=0.0)
        if expected is not None:
            np.testing.assert_array_equal(crop, expected)
        else:  # align=false: the box crop of au.prepare
            assert crop.shape == (48, 48, 3) and not np.array_equal(crop, expected)


@pytest.mark.slow
def test_predict_writes_landmarks_and_pose_with_mtcnn_and_leaves_them_empty_with_haar(
    tiny_run, tmp_path
):
    from matplotlib import cbook

    from tests.conftest import real_mtcnn_weights
    from tests.test_predict import predict

    real_mtcnn_weights()  # au.predict's detector=mtcnn reads them from the cache
    portrait = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    _, rows = predict(ckpt, portrait, tmp_path / "mtcnn", "detector=mtcnn", "annotate=true")
    assert len(rows) == 1 and rows.loc[0, "detector_score"] > 0.9
    x, y, w, h = rows.loc[0, ["x", "y", "w", "h"]]
    xs, ys = rows.loc[0, LANDMARK_COLUMNS[0::2]], rows.loc[0, LANDMARK_COLUMNS[1::2]]
    assert ((x < xs) & (xs < x + w)).all() and ((y < ys) & (ys < y + h)).all()
    assert (rows.loc[0, ["yaw", "pitch", "roll"]].abs() < 15).all()  # a nearly frontal portrait
    assert (tmp_path / "mtcnn" / "annotated" / "grace_hopper.jpg").is_file()
    _, rows = predict(ckpt, portrait, tmp_path / "haar", "detector=haar")
    assert len(rows) == 1 and rows.loc[0, [*LANDMARK_COLUMNS, "yaw"]].isna().all()
