"""One crop geometry from au.prepare to au.predict: the shared cut, what the data module and the
checkpoint record, and the predict loop cutting faces as the checkpoint's crops were cut."""

import logging
import math
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from au.alignment import (
    CropGeometry,
    align_face,
    crop_box,
    crop_face,
    cut_face,
    five_points,
    landmark_affine,
)
from au.data.crop_geometry import synthetic_crop_geometry
from au.data.datamodule import AUDataModule
from au.data.index import write_index
from au.inference import pipeline
from au.inference.faces import FaceBox
from au.inference.pipeline import PredictionRunner, face_geometry
from au.prepare.reader_base import CropWriter
from tests.prepare.fixtures import face_landmarks

TEMPLATE5 = {"method": "template5", "margin": 0.15}
BOX = {"method": "box", "margin": 0.15}
#: A 200 x 150 frame's face: 66 landmarks about (100, 75), its 5 template points, its box.
LANDMARKS = face_landmarks((100.0, 75.0))
FIVE = five_points(LANDMARKS)
BOX_XYWH = (70, 40, 60, 70)
#: A small synthetic video set's config (its template is the mean of its rendered 5 points).
VIDEO_CONFIG = {"num_subjects": 12, "frames_per_subject": 20, "image_size": 64}


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8)


def runner_for(geometry: CropGeometry | None, size: int = 64, align: bool = True):
    detector = SimpleNamespace(image_size=size, crop_geometry=geometry)
    return PredictionRunner(detector, SimpleNamespace(eyes=object() if align else None), None)


# ---- the geometry and the shared cut --------------------------------------------------------
def test_five_points_of_each_landmark_scheme():
    marks = np.column_stack([np.arange(68.0), 2 * np.arange(68.0)])  # point i at (i, 2i)
    # eyes: the means of 36-41 and 42-47; nose tip 30; mouth corners 48 and 54
    ibug = [[38.5, 77.0], [44.5, 89.0], [30.0, 60.0], [48.0, 96.0], [54.0, 108.0]]
    np.testing.assert_array_equal(five_points(marks), ibug)
    np.testing.assert_array_equal(five_points(marks[:66]), ibug)
    # 49 points: eyes 19-24 and 25-30, nose tip 13, mouth corners 31 and 37
    intraface = [[21.5, 43.0], [27.5, 55.0], [13.0, 26.0], [31.0, 62.0], [37.0, 74.0]]
    np.testing.assert_array_equal(five_points(marks[:49]), intraface)
    np.testing.assert_array_equal(five_points(marks[:5]), marks[:5])
    assert five_points(marks[:22]) is None


def test_geometry_records_round_trip_and_others_are_not_cut():
    celeba = CropGeometry("eyes", 0.55, 5)
    assert celeba.to_dict() == {"method": "eyes", "margin": 0.55, "landmarks": 5}
    assert CropGeometry.from_dict(celeba.to_dict()) == celeba
    assert CropGeometry.from_dict({"method": "template5"}) == CropGeometry("template5", 0.15)
    assert CropGeometry("template5").to_dict() == TEMPLATE5
    uncut = [
        None,
        {},
        {"method": "released"},
        synthetic_crop_geometry("video"),
        {"method": "mixed"},
    ]
    assert [CropGeometry.from_dict(record) for record in uncut] == [None] * 5
    with pytest.raises(ValueError, match="crop method 'arcface': choose one of template5, eyes"):
        CropGeometry("arcface")


def test_cut_face_cuts_each_method_as_its_crop_function(frame):
    template5, eyes, box = (CropGeometry(m, 0.2) for m in ("template5", "eyes", "box"))
    np.testing.assert_array_equal(
        cut_face(frame, template5, 48, points=FIVE), align_face(frame, FIVE, 48, 0.2)
    )
    np.testing.assert_array_equal(
        cut_face(frame, eyes, 48, box=BOX_XYWH, roll=0.3), crop_box(frame, BOX_XYWH, 48, 0.2, 0.3)
    )
    np.testing.assert_array_equal(
        cut_face(frame, box, 48, box=BOX_XYWH, roll=0.3), crop_box(frame, BOX_XYWH, 48, 0.2)
    )
    np.testing.assert_array_equal(
        cut_face(frame, eyes, 48, points=LANDMARKS), crop_face(frame, LANDMARKS, 48, 0.2)
    )
    with pytest.raises(ValueError, match=r"template5 crop needs the 5 template points \(5, 2\)"):
        cut_face(frame, template5, 48, points=LANDMARKS)
    with pytest.raises(ValueError, match="a box crop needs landmark points or a box"):
        cut_face(frame, box, 48)


# ---- prepare and predict cut the same pixels ------------------------------------------------
def test_prepare_and_predict_cut_pixel_equal_crops_of_the_same_points(frame, tmp_path):
    template5 = CropGeometry("template5")
    prepared = CropWriter(tmp_path, 64, False, template5).from_points(frame, LANDMARKS)
    mtcnn_face = FaceBox(*BOX_XYWH, score=0.99, landmarks=FIVE)  # the same 5 points
    predicted = runner_for(template5)._crop(frame, mtcnn_face, roll=0.0)
    assert prepared.shape == (64, 64, 3) and prepared.std() > 30  # the noise (std 74), not black
    np.testing.assert_array_equal(predicted, prepared)
    # CelebA's eyes crops around its 5 landmarks (margin 0.55): predict cuts them on MTCNN's
    celeba = CropGeometry("eyes", 0.55, 5)
    prepared = CropWriter(tmp_path, 64, False, celeba).from_points(frame, FIVE)
    np.testing.assert_array_equal(runner_for(celeba)._crop(frame, mtcnn_face, 0.0), prepared)
    # a detector box: prepare's box crop is predict's for a box checkpoint and a Haar face
    prepared = CropWriter(tmp_path, 64, False).from_box(frame, BOX_XYWH)
    haar_face = FaceBox(*BOX_XYWH, score=3.0)
    predicted = runner_for(CropGeometry("box"))._crop(frame, haar_face, roll=0.2)
    np.testing.assert_array_equal(predicted, prepared)


@pytest.mark.parametrize(
    ("trained", "align", "landmarks", "expected"),
    [
        (CropGeometry("template5"), True, True, CropGeometry("template5")),
        (CropGeometry("template5"), True, False, CropGeometry("eyes")),  # detector=haar
        (CropGeometry("template5"), False, True, CropGeometry("box")),  # align=false
        (CropGeometry("eyes", 0.2, 66), True, True, CropGeometry("eyes", 0.2, 66)),
        (CropGeometry("box", 0.2, 66), True, False, CropGeometry("box", 0.2, 66)),
        (None, True, True, CropGeometry("template5")),  # as before geometries were recorded
        (None, True, False, CropGeometry("eyes")),
    ],
)
def test_face_geometry_follows_the_checkpoint_where_the_face_allows(
    trained, align, landmarks, expected
):
    margin = trained.margin if trained else 0.15
    assert face_geometry(trained, margin, align, landmarks)[0] == expected


def fake_checkpoint(crop_geometry: dict | None, **options):
    """An untrained 2-AU detector whose data_config records ``crop_geometry``."""
    import torch

    from au.data.transforms import normalization
    from au.inference.detector import AUDetector
    from au.models.module import AULitModule

    mean, std = normalization(3)
    config = {"image_size": 32, "channels": 3, "mean": mean, "std": std}
    if crop_geometry is not None:
        config["crop_geometry"] = crop_geometry
    torch.manual_seed(0)
    backbone = {"name": "test_efficientnet", "pretrained": False}
    model = AULitModule(aus=["AU1", "AU12"], backbone=backbone, data_config=config)
    return AUDetector(model, **options)


def test_renders_template_false_cuts_synthetic_models_as_before():
    renders = synthetic_crop_geometry("video", VIDEO_CONFIG)
    assert fake_checkpoint(renders, renders_template=False).crop_geometry is None
    assert fake_checkpoint(renders).crop_geometry.template is not None
    real = fake_checkpoint(TEMPLATE5, renders_template=False)  # real crops: unaffected
    assert real.crop_geometry == CropGeometry("template5")


#: Tilted 5 landmarks of a face in the 200 x 150 frame: the right-hand eye 10 px lower.
TILTED = np.array([[80.0, 60.0], [120.0, 70.0], [100.0, 85.0], [85.0, 100.0], [115.0, 105.0]])
TILT = math.atan2(10.0, 40.0)


@pytest.mark.parametrize(
    ("record", "geometry", "where"),
    [
        (TEMPLATE5, CropGeometry("template5"), "points"),
        ({"method": "eyes", "margin": 0.2, "landmarks": 66}, CropGeometry("eyes", 0.2, 66), "box"),
        (None, CropGeometry("template5"), "points"),  # an older checkpoint: as before
        (synthetic_crop_geometry("video"), CropGeometry("template5"), "points"),  # no template
        (
            synthetic_crop_geometry("video", VIDEO_CONFIG),
            CropGeometry.from_dict(synthetic_crop_geometry("video", VIDEO_CONFIG)),
            "points",
        ),
    ],
)
def test_predict_cuts_faces_with_the_checkpoints_geometry(
    frame, monkeypatch, record, geometry, where
):
    from au import Detector
    from au.inference.tracking import FaceTracker

    model = fake_checkpoint(record)
    assert model.crop_geometry == CropGeometry.from_dict(record)
    calls, real_cut = [], pipeline.cut_face

    def recording_cut(image, used, size, **given):
        calls.append((used, size, given))
        return real_cut(image, used, size, **given)

    monkeypatch.setattr(pipeline, "cut_face", recording_cut)
    face = FaceBox(*BOX_XYWH, score=0.99, landmarks=TILTED)
    tracker = FaceTracker(lambda image: [face], eyes=object())  # MTCNN-like: eyes unused
    table = Detector(model, tracker).predict([frame])
    [(used, size, given)] = calls
    assert (used, size) == (geometry, 32)
    if where == "points":
        assert list(given) == ["points"] and given["points"] is TILTED
    else:  # the box turned by the landmarks' eye line
        assert given["box"] == BOX_XYWH and given["roll"] == pytest.approx(TILT)
    # the reported box: the square 1 + 2 * margin times the box's 70 px side about (100, 75)
    side = round(70 * (1 + 2 * geometry.margin))
    reported = [round(100 - side / 2), round(75 - side / 2), side, side]
    assert table.loc[0, ["x", "y", "w", "h"]].tolist() == reported


def test_faces_without_landmarks_fall_back_with_one_warning(frame, caplog):
    runner = runner_for(CropGeometry("template5"), size=32)
    caplog.set_level(logging.INFO, logger="au.inference.pipeline")
    haar_face = FaceBox(*BOX_XYWH, score=3.0)
    crops = [runner._crop(frame, haar_face, roll=0.1) for _ in range(3)]
    np.testing.assert_array_equal(crops[0], crop_box(frame, BOX_XYWH, 32, 0.15, 0.1))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "faces cut as eyes (margin 0.15): the checkpoint's crops are template5, which needs "
            "the 5 landmarks these faces lack (detector=haar): the nearest from a box",
        )
    ]


# ---- the renders' own template ---------------------------------------------------------------
def test_the_renders_template_is_where_their_faces_sit():
    video = np.array(synthetic_crop_geometry("video", VIDEO_CONFIG)["template"])
    posed = np.array(synthetic_crop_geometry("posed", {"regime": "posed"})["template"])
    for points in (video, posed):
        eyes, nose, mouth = points[:2], points[2], points[3:]
        assert eyes[0, 0] < 0.5 < eyes[1, 0] and mouth[0, 0] < 0.5 < mouth[1, 0]
        assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # eyes above nose above mouth
        assert abs(points[:, 0].mean() - 0.5) < 0.02  # about the midline
    eye_distance = [p[1, 0] - p[0, 0] for p in (video, posed)]
    assert eye_distance[1] / eye_distance[0] == pytest.approx(1.2, abs=0.06)  # stills: CROP_ZOOM


def test_a_synthetic_record_with_its_template_is_cut_onto_it(frame):
    record = synthetic_crop_geometry("video", VIDEO_CONFIG)
    geometry = CropGeometry.from_dict(record)
    template = np.array(record["template"])
    assert geometry == CropGeometry("template5", 0.0, template=tuple(map(tuple, template)))
    assert CropGeometry.from_dict(geometry.to_dict()) == geometry  # round trip as template5
    assert geometry.describe() == "template5 on the renders' template (margin 0)"
    # 5 points that are the template turned by 20 deg, scaled by 90 px and shifted: the cut
    # maps them back onto the template's place in the crop, exactly
    turn = np.deg2rad(20.0)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    points = template @ rotation.T * 90.0 + [60.0, 20.0]
    matrix = landmark_affine(points, 48, geometry.margin, geometry.template)
    mapped = np.c_[points, np.ones(5)] @ matrix.T
    np.testing.assert_allclose(mapped, template * 48, atol=1e-9)
    crop = cut_face(frame, geometry, 48, points=points)
    np.testing.assert_array_equal(crop, cv2.warpAffine(frame, matrix, (48, 48)))


def test_faces_without_landmarks_are_cut_around_the_box_with_the_usual_margin():
    geometry = CropGeometry.from_dict(synthetic_crop_geometry("video", VIDEO_CONFIG))
    assert face_geometry(geometry, 0.0, True, False)[0] == CropGeometry("eyes", 0.15)
    assert face_geometry(geometry, 0.3, True, False)[0] == CropGeometry("eyes", 0.3)  # margin=
    assert face_geometry(geometry, 0.0, True, True)[0] == geometry


def test_a_hand_edited_synthetic_config_is_one_clear_error():
    from au.errors import IndexFormatError

    with pytest.raises(IndexFormatError, match="synthetic set config .*num_subject"):
        synthetic_crop_geometry("video", {"num_subject": 4})


@pytest.mark.parametrize("template", [[[0.3, 0.4]] * 4, "wide", [[0.3, "x"]] * 5])
def test_a_hand_edited_template_is_one_clear_error(template):
    from au.errors import CheckpointError

    with pytest.raises(CheckpointError, match="expected 5 \\[x, y\\] fractions"):
        CropGeometry.from_dict({"method": "synthetic", "template": template})


# ---- what the data module and the checkpoint record -----------------------------------------
def test_synthetic_sets_record_how_the_renderer_frames_faces():
    assert synthetic_crop_geometry("video") == {
        "method": "synthetic",
        "regime": "video",
        "face_zoom": 1.1,
        "face_centre": [0.5, 0.47],
        "aligned": False,
    }
    assert synthetic_crop_geometry("posed")["face_zoom"] == 1.32  # stills: 1.2 x larger


def tiny_index(folder, name: str, crop_geometry: dict | None):
    """Six subjects of two 16 px images each, AU12 coded, three folds; its ``index.json``."""
    rows = []
    for subject in range(6):
        for shot in range(2):
            path = f"images/{subject}_{shot}.png"
            (folder / "images").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / path), np.full((16, 16, 3), 40 * subject, np.uint8))
            rows.append(
                {"path": path, "subject": f"s{subject}", "AU12": shot, "fold": subject % 3 + 1}
            )
    meta = {"name": name, "label_type": "occurrence", "positive_threshold": 1}
    if crop_geometry is not None:
        meta["crop_geometry"] = crop_geometry
    write_index(pd.DataFrame(rows), folder, meta)
    return str(folder)


def test_the_data_module_keeps_the_geometry_of_its_indexes(tmp_path, caplog):
    first = tiny_index(tmp_path / "a", "a", TEMPLATE5)
    options = dict(aus=["AU12"], image_size=16, batch_size=2)
    single = AUDataModule(index_csv=first, **options)
    single.setup()
    assert single.crop_geometry == TEMPLATE5
    same = AUDataModule(index_csv=[first, tiny_index(tmp_path / "b", "b", TEMPLATE5)], **options)
    same.setup()
    assert same.crop_geometry == TEMPLATE5
    mixed = AUDataModule(index_csv=[first, tiny_index(tmp_path / "c", "c", BOX)], **options)
    mixed.setup()
    assert mixed.crop_geometry == {
        "method": "mixed",
        "parts": [{"name": "a", "crop_geometry": TEMPLATE5}, {"name": "c", "crop_geometry": BOX}],
    }
    assert "the combined data sets were cropped differently" in caplog.text
    unrecorded = AUDataModule(index_csv=tiny_index(tmp_path / "d", "d", None), **options)
    unrecorded.setup()
    assert unrecorded.crop_geometry is None


def test_the_model_built_for_an_index_carries_its_geometry_in_data_config(tmp_path):
    from au.run.builders import build_datamodule, build_module
    from tests.conftest import compose_fit

    index = tiny_index(tmp_path / "index", "toy", TEMPLATE5)
    config = compose_fit(
        [
            "backbone=tiny",
            "logger=csv",
            "data=index",
            f"data.index_csv={index}",
            "data.aus=[AU12]",
            "data.image_size=16",
            "data.num_workers=0",
            "data.pin_memory=false",
            f"paths.output_dir={tmp_path / 'run'}",
        ]
    )
    module = build_module(config, build_datamodule(config))
    assert module.hparams.data_config["crop_geometry"] == TEMPLATE5


@pytest.mark.slow
def test_a_tiny_fit_saves_the_renders_template_and_predict_cuts_onto_it(tiny_run):
    from au.inference.detector import AUDetector
    from au.models.checkpoint import read_checkpoint

    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    checkpoint = read_checkpoint(ckpt)
    data_config = checkpoint["hyper_parameters"]["data_config"]
    config = checkpoint["datamodule_hyper_parameters"]["data"]["synthetic"]  # the set it read
    assert data_config["crop_geometry"] == synthetic_crop_geometry("video", config)
    geometry = AUDetector.from_checkpoint(ckpt).crop_geometry
    assert geometry.method == "template5" and geometry.template is not None


def test_a_recorded_geometry_au_cannot_follow_is_one_clear_error():
    """A hand-edited record would otherwise be ignored (unknown method) or crash (margin)."""
    from au.alignment import CropGeometry
    from au.errors import CheckpointError

    assert CropGeometry.from_dict({"method": "synthetic", "regime": "video"}) is None
    assert CropGeometry.from_dict({"method": "eyes", "margin": 0.2}).margin == 0.2
    for bad in ({"method": "templat5"}, {"method": "box", "margin": "wide"}):
        with pytest.raises(CheckpointError, match="expected a method among template5, eyes"):
            CropGeometry.from_dict(bad)
