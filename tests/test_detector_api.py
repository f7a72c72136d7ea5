"""``au.Detector``: the notebook API gives the CLI's predictions.csv rows as a DataFrame."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from au import Detector
from au.inference.media import MediaReadError
from tests.test_predict import predict, synthetic_faces, write_rgb

# Every test loads the tiny_run fit (a trained model) or starts a Python process.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ckpt(tiny_run) -> Path:
    return tiny_run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def det(ckpt) -> Detector:
    return Detector.from_checkpoint(ckpt, detector="none")


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    return synthetic_faces(3)


def test_folder_gives_the_csv_columns_and_probabilities_of_the_command(ckpt, det, faces, tmp_path):
    for index, face in enumerate(faces):
        write_rgb(tmp_path / "crops" / f"face{index}.png", face)
    _, csv = predict(ckpt, tmp_path / "crops", tmp_path / "out", "detector=none")
    table = det.predict(tmp_path / "crops")
    header = (tmp_path / "out" / "predictions.csv").read_text().splitlines()[0].split(",")
    assert list(table.columns) == header
    assert len(table) == len(csv) == 3
    assert table["source"].tolist() == ["face0.png", "face1.png", "face2.png"]
    numbers = [c for c in header if c.startswith(("p_", "emotion_"))]
    assert numbers
    np.testing.assert_allclose(table[numbers].to_numpy(float), csv[numbers].to_numpy(float), 1e-6)
    assert table["top_emotion"].tolist() == csv["top_emotion"].tolist()
    assert table["lm0_x"].isna().all() and table["yaw"].isna().all()


def test_list_of_arrays_matches_the_same_images_read_from_files_in_rgb_or_bgr(det, faces, tmp_path):
    for index, face in enumerate(faces):
        write_rgb(tmp_path / f"face{index}.png", face)
    from_files = det.predict(tmp_path)
    rgb = det.predict(faces)
    bgr = det.predict([face[..., ::-1] for face in faces], bgr=True)
    assert rgb["source"].tolist() == ["array0", "array1", "array2"]
    assert rgb["frame"].tolist() == [0, 0, 0] and rgb["w"].tolist() == [96, 96, 96]
    probabilities = [c for c in rgb.columns if c.startswith("p_")]
    expected = from_files[probabilities].to_numpy(float)
    np.testing.assert_allclose(rgb[probabilities].to_numpy(float), expected, atol=1e-6)
    pd.testing.assert_frame_equal(rgb, bgr)


def test_bad_inputs_raise_the_errors_of_the_command(det, tmp_path):
    with pytest.raises(FileNotFoundError, match="predict input not found: .*nowhere.mp4"):
        det.predict(tmp_path / "nowhere.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(MediaReadError, match="nothing could be read from input .*broken.mp4"):
        det.predict(tmp_path / "broken.mp4")
    with pytest.raises(MediaReadError, match=r"images\[1\]: expected a uint8 \(H, W, 3\) array"):
        det.predict([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def test_import_au_does_not_load_the_inference_stack():
    import subprocess
    import sys

    code = "import sys, au; print('au.inference' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
