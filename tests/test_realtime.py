"""Real-time predict: ONNX Runtime, aligned crops, tracking, read-ahead, live view, flat cost."""

import math
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from au.alignment import box_points, crop_box, crop_face
from au.inference.align import EyeFinder, roll_of
from au.inference.detector import AUDetector
from au.inference.faces import FaceBox, HaarFaceDetector
from au.inference.runtime import onnx_path_for
from au.inference.stream import StageTimes, read_ahead
from au.inference.tracking import FaceTracker
from tests.test_predict import predict, synthetic_faces, write_rgb


@pytest.fixture(scope="module")
def ckpt(tiny_run) -> Path:
    return tiny_run / "checkpoints" / "best.ckpt"


def rendered_face(seed: int = 3, size: int = 160) -> np.ndarray:
    """A clean frontal synthetic face on a grey canvas twice its size (RGB)."""
    face = synthetic_faces(seed + 1, size=size)[seed]
    canvas = np.full((2 * size, 2 * size, 3), 190, np.uint8)
    canvas[size // 2 : size // 2 + size, size // 2 : size // 2 + size] = face
    return canvas


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned clockwise on screen by ``degrees`` about its centre."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderValue=(190, 190, 190))


def write_video(path: Path, frames, fps: float = 25.0) -> Path:
    frames = iter(frames)
    first = next(frames)
    size = (first.shape[1], first.shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for frame in (first, *frames):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


# ---- ONNX Runtime in predict --------------------------------------------------------------
@pytest.mark.slow
def test_onnx_runtime_is_exported_beside_the_checkpoint_and_matches_pytorch(ckpt, tmp_path):
    crops = synthetic_faces(5, size=64)
    for i, crop in enumerate(crops):
        write_rgb(tmp_path / "crops" / f"face{i}.png", crop)
    _, torch_rows = predict(ckpt, tmp_path / "crops", tmp_path / "torch", "detector=none")
    _, onnx_rows = predict(
        ckpt, tmp_path / "crops", tmp_path / "onnx", "detector=none", "runtime=onnx"
    )
    exported = onnx_path_for(ckpt)
    assert exported == ckpt.with_suffix(".onnx") and exported.is_file()
    assert exported.with_name("best.onnx.json").is_file()
    assert list(onnx_rows.columns) == list(torch_rows.columns)
    probabilities = [c for c in torch_rows.columns if c.startswith("p_")]
    np.testing.assert_allclose(onnx_rows[probabilities], torch_rows[probabilities], atol=1e-5)
    stamp = exported.stat().st_mtime_ns
    predict(ckpt, tmp_path / "crops", tmp_path / "again", "detector=none", "runtime=onnx")
    assert exported.stat().st_mtime_ns == stamp  # reused, not exported again


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_a_face_scores_the_same_alone_and_in_a_batch_of_mixed_sizes(ckpt, runtime):
    detector = AUDetector.from_checkpoint(ckpt, runtime=runtime)
    faces = synthetic_faces(6, size=80)
    mixed = [cv2.resize(f, (s, s)) for f, s in zip(faces, (64, 80, 120, 48, 200, 64), strict=True)]
    alone = np.concatenate([detector.probabilities([face]) for face in mixed])  # (6, A)
    together = detector.probabilities(mixed)
    np.testing.assert_allclose(together, alone, atol=1e-6)
    decisions = detector.predict(mixed).au_decisions
    np.testing.assert_array_equal(decisions, alone > detector.thresholds)


# ---- crop geometry and alignment ----------------------------------------------------------
def test_predict_cuts_the_crop_au_prepare_cuts_for_the_same_box():
    image = rendered_face()
    box = (150, 140, 170, 190)
    prepared = crop_face(image, box_points(box), 128, 0.15, rotate=False)  # as bp4d/disfa do
    predicted = crop_box(image, box, 128, 0.15)
    np.testing.assert_array_equal(predicted, prepared)
    marked = image.copy()
    marked[233:238, 233:238] = (255, 0, 0)  # the box's centre, (235, 235)
    marked[140:142, 150:320] = (0, 0, 255)  # its top edge
    crop = crop_box(marked, box, 128, 0.15)
    red = np.argwhere((crop[:, :, 0] > 200) & (crop[:, :, 2] < 80)).mean(axis=0)
    assert np.allclose(red, [63.5, 63.5], atol=1.0)  # centred
    blue_rows = np.argwhere((crop[:, :, 2] > 200) & (crop[:, :, 0] < 80))[:, 0]
    # the square is 1.3 x 190 = 247 px: the top edge lies 0.15 x 190 = 28.5 px below its top
    assert np.median(blue_rows) == pytest.approx((28.5 + 1) * 128 / 247, abs=1.0)


@pytest.mark.parametrize("degrees", [-15.0, -8.0, 8.0, 15.0])
def test_a_face_rotated_by_a_known_angle_comes_back_level(degrees):
    upright = rendered_face()
    turned = rotate(upright, degrees)
    face = HaarFaceDetector()(turned)[0]
    eyes = EyeFinder()(turned, face)
    assert eyes is not None
    roll = roll_of(eyes)
    assert math.degrees(roll) == pytest.approx(degrees, abs=2.5)
    box = (face.x, face.y, face.w, face.h)
    aligned = crop_box(turned, box, 160, 0.15, roll)
    level = EyeFinder()(aligned, FaceBox(0, 0, 160, 160))
    assert level is not None and abs(math.degrees(roll_of(level))) < 2.5
    unaligned = crop_box(turned, box, 160, 0.15)
    reference = crop_box(upright, box, 160, 0.15)  # the same box on the upright face
    error = [np.abs(c.astype(int) - reference).mean() for c in (aligned, unaligned)]
    assert error[0] < 0.7 * error[1]  # levelled, the crop is closer to the upright face


# ---- tracking -----------------------------------------------------------------------------
class ScriptedDetector:
    """Returns a box moving right by 2 px a frame with +-6 px jitter; misses every 4th call."""

    def __init__(self):
        self.calls, self.frame = 0, 0

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        self.calls += 1
        x = 100 + 2 * int(image[0, 0, 0]) + (6 if self.calls % 2 else -6)
        return [] if self.calls % 4 == 0 else [FaceBox(int(x), 80, 100, 100)]


def test_tracker_detects_every_nth_frame_and_keeps_one_smoothed_face_through_misses():
    detect = ScriptedDetector()
    tracker = FaceTracker(detect, detect_every=3, smoothing=0.5, max_misses=1)
    seen = []
    for index in range(30):
        frame = np.full((10, 10, 3), index, np.uint8)  # the frame number drives the motion
        seen.append(tracker(frame))
    assert detect.calls == 10  # frames 0, 3, ..., 27
    assert all(len(faces) == 1 for faces in seen)  # a missed detection keeps the last box
    assert {faces[0].track for faces in seen} == {0}  # one face, one track, all along
    xs = np.array([faces[0].box.x for faces in seen[::3]], float)
    raw = 100 + 2 * np.arange(0, 30, 3) + np.where(np.arange(1, 11) % 2, 6, -6)
    assert np.std(np.diff(xs)) < 0.6 * np.std(np.diff(raw))  # smoothed
    assert xs[-1] > xs[0] + 30  # and still following the motion
    tracker.reset()
    assert tracker(np.zeros((10, 10, 3), np.uint8))[0].track == 1  # a new source, a new track


# ---- read-ahead ---------------------------------------------------------------------------
def test_read_ahead_keeps_order_stays_bounded_and_passes_errors_on():
    produced = []

    def frames():
        for index in range(50):
            produced.append(index)
            yield index
        raise OSError("frame 50 is corrupt")

    times = StageTimes()
    got = []
    with pytest.raises(OSError, match="frame 50"):
        for item in read_ahead(frames(), buffered=4, times=times):
            time.sleep(0.001)
            assert len(produced) - item <= 4 + 2  # never far ahead of the consumer
            got.append(item)
    assert got == list(range(50)) and times.seconds["decode"] > 0


# ---- live view (the camera path, on a video file) -----------------------------------------
@pytest.mark.slow
def test_live_view_shows_boxes_and_rate_and_stops_cleanly_when_asked(ckpt, tmp_path):
    frames = [rotate(rendered_face(), 3 * np.sin(i / 3)) for i in range(40)]
    video = write_video(tmp_path / "camera.avi", frames)
    shown = []

    def screen(image: np.ndarray) -> bool:
        shown.append(image.copy())
        return len(shown) < 12  # the user presses q on the 12th frame

    from au.predict import run_predict
    from tests.test_predict import compose_predict

    config = compose_predict(
        [f"ckpt_path={ckpt}", f"input={video}", f"output_dir={tmp_path}/out", "progress=false"]
    )
    summary = run_predict(config, show=screen)
    assert len(shown) == 12 and summary.frames == 12
    rows = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert rows["frame"].tolist() == list(range(12)) and (rows["face"] == 0).all()
    x, y, w, h = rows.loc[11, ["x", "y", "w", "h"]].astype(int)
    last = shown[-1]
    assert np.any(last[y + h // 2, x] != frames[11][y + h // 2, x])  # the box is drawn
    assert np.any(last[5:40, 5:120] != frames[11][5:40, 5:120])  # the frame rate, top left


# ---- cost that does not grow with the video -----------------------------------------------
def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.slow
def test_memory_and_time_per_frame_stay_flat_over_a_long_video(ckpt, tmp_path):
    from au.inference.pipeline import PredictionRunner
    from au.inference.records import PredictionTable
    from au.predict import build_tracker
    from tests.test_predict import compose_predict

    face = cv2.resize(rendered_face(), (96, 96))
    video = write_video(tmp_path / "long.avi", (np.roll(face, i % 7, 1) for i in range(3000)))
    config = compose_predict([f"ckpt_path={ckpt}", f"input={video}", "detect_every=5"])
    detector = AUDetector.from_checkpoint(ckpt)
    stamps, memory = [], []

    class Probe(PredictionTable):
        def write(self, rows):
            super().write(rows)
            stamps.append(time.process_time())  # CPU time: other jobs on the machine don't count
            if len(stamps) in (1000, 3000):
                memory.append(_rss_mib())

    from au.inference.media import find_sources

    columns = detector.layout.columns()
    with Probe(tmp_path / "out", columns) as table:
        runner = PredictionRunner(detector, build_tracker(config), table, batch_size=16)
        summary = runner.run(find_sources(video), progress=False)
    assert summary.frames == 3000 and summary.faces == 3000
    first = (stamps[1099] - stamps[100]) / 999  # CPU s per frame (rows come in batches), warm
    last = (stamps[-1] - stamps[-1000]) / 999
    print(f"ms/frame first 1000 {1000 * first:.2f}, last 1000 {1000 * last:.2f}; RSS {memory}")
    assert last < 1.5 * first  # does not grow with the frame number
    assert memory[1] - memory[0] < 20  # MiB: frames are streamed, not accumulated


@pytest.mark.slow
def test_evaluate_in_onnx_runtime_scores_as_pytorch(ckpt, tmp_path):
    from au.evaluate import run_evaluate
    from au.run.config import compose_config

    results = {}
    for runtime in ("torch", "onnx"):
        overrides = [f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / runtime}"]
        overrides += ["plots=false", "device=cpu", f"runtime={runtime}"]
        results[runtime] = run_evaluate(compose_config("evaluate", overrides))
    torch_probs = results["torch"]["predictions"]["probs"].numpy()
    onnx_probs = results["onnx"]["predictions"]["probs"].numpy()
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-5)
    f1 = [results[r]["result"].score for r in ("torch", "onnx")]
    assert f1[1] == pytest.approx(f1[0], abs=1e-3)


# ---- low light ----------------------------------------------------------------------------
def test_low_light_normalisation_lifts_a_dark_face_and_follows_the_checkpoint():
    import torch

    from au.data.transforms import eval_transform, normalization, train_transform
    from au.models.module import AULitModule

    face = synthetic_faces(1, size=96)[0]
    dark = (face * 0.3).astype(np.uint8)  # a third of the light
    plain, levelled = (eval_transform(96, clahe=c)(image=dark)["image"] for c in (False, True))
    assert levelled.std() > 1.3 * plain.std()  # contrast comes back (1.42x when written)
    lit = eval_transform(96, clahe=True)(image=face)["image"]
    assert (levelled - lit).abs().mean() < 0.9 * (plain - lit).abs().mean()  # 0.81x
    assert train_transform(96, clahe=True, affine=0, hflip=0, color=0)(image=dark)["image"].equal(
        levelled
    )
    mean, std = normalization(3)
    torch.manual_seed(0)
    config = {"image_size": 48, "channels": 3, "mean": mean, "std": std, "clahe": True}
    module = AULitModule(
        aus=["AU1", "AU12"], backbone={"name": "test_efficientnet", "pretrained": False},
        data_config=config,
    )  # fmt: skip
    assert AUDetector(module).clahe and not AUDetector(module, clahe=False).clahe
    with_clahe = AUDetector(module).probabilities([dark])
    assert not np.allclose(with_clahe, AUDetector(module, clahe=False).probabilities([dark]))
