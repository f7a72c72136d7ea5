"""Relief shading: the inverse of the head turn, light direction, and what the light does."""

from __future__ import annotations

import numpy as np
import pytest

from au.data.synthetic import SyntheticConfig
from au.data.synthetic.canvas import HeadProjector, Pose
from au.data.synthetic.face import EYE_Y, face_outline
from au.data.synthetic.identity import sample_identity
from au.data.synthetic.nuisances import Nuisance
from au.data.synthetic.relief import face_points, light_direction, mixed_relief_weight
from au.data.synthetic.render import render_face
from au.data.synthetic.writer import dataset_folder


@pytest.fixture(scope="module")
def identity():
    return sample_identity(np.random.default_rng(3))


@pytest.mark.parametrize(("yaw", "pitch"), [(0.0, 0.0), (20.0, 0.0), (-15.0, 10.0), (8.0, -9.0)])
def test_face_points_undo_the_projectors_turn(identity, yaw, pitch):
    parts = face_outline(identity, 0.0)
    projector = HeadProjector(Pose(yaw=yaw, pitch=pitch), parts.profile_y, parts.profile_w)
    grid = np.stack(np.meshgrid(np.linspace(-0.2, 0.2, 9), np.linspace(-0.25, 0.3, 9)), -1)
    points = grid.reshape(-1, 2)
    image = projector(points)
    # face-plane position = image position with shift and scale undone (no roll here)
    u, v = projector.to_face_plane(image[:, 0], image[:, 1])
    x, y = face_points(projector, u, v, iterations=12)
    assert np.abs(x - points[:, 0]).max() < 2e-3
    assert np.abs(y - points[:, 1]).max() < 2e-3


def test_light_direction_points_where_the_light_comes_from():
    from_right = light_direction(Nuisance(light_angle=0.0, light_contrast=0.5))
    from_left = light_direction(Nuisance(light_angle=180.0, light_contrast=0.5))
    assert from_right[0] > 0.5 and from_left[0] < -0.5
    assert np.isclose(np.linalg.norm(from_right), 1.0)
    frontal = light_direction(Nuisance(light_contrast=0.0))
    # no side light: straight on, 0.35 above the axis (normalised: y = -0.35 / sqrt(1.1225))
    assert np.allclose(frontal, [0.0, -0.35 / np.sqrt(1.1225), 1.0 / np.sqrt(1.1225)], atol=1e-6)


def _half_means(image: np.ndarray) -> tuple[float, float]:
    gray = image.astype(float).mean(axis=2)
    face = gray[40:90, 34:94]  # cheeks and nose of the 128-px frontal face
    return face[:, :30].mean(), face[:, 30:].mean()


def test_side_light_lights_the_side_it_comes_from(identity):
    gaps = []
    for angle in (180.0, 0.0):  # from the left, then from the right
        image = render_face(identity, np.zeros(12), Nuisance(light_angle=angle, light_contrast=0.5))
        left_mean, right_mean = _half_means(image)
        gaps.append(left_mean - right_mean)
    assert gaps[0] > 20.0 and gaps[1] < -20.0  # grey levels: the lit side of a rounded face


def test_eye_sockets_are_darker_than_the_cheekbones_only_in_relief(identity):
    size = 128

    def row(y: float) -> int:
        return round((0.47 + 1.1 * y) * size)

    eye_x = round((0.5 + 1.1 * identity.eye_spacing) * size)
    darkness = {}
    for shading in ("flat", "relief"):
        gray = render_face(identity, np.zeros(12), shading=shading).astype(float).mean(axis=2)
        above_eye = gray[row(EYE_Y - 0.035), eye_x - 3 : eye_x + 4].mean()  # socket, under brow
        cheek = gray[row(0.06), eye_x - 3 : eye_x + 4].mean()
        darkness[shading] = cheek - above_eye
    assert darkness["relief"] > darkness["flat"] + 5.0


def test_shading_is_checked_and_names_the_folder():
    with pytest.raises(ValueError, match="shading"):
        SyntheticConfig(shading="phong")
    with pytest.raises(ValueError, match="shading"):
        render_face(sample_identity(np.random.default_rng(0)), np.zeros(12), shading="phong")
    flat = dataset_folder(SyntheticConfig(), root="/data")
    relief = dataset_folder(SyntheticConfig(shading="relief"), root="/data")
    assert flat.name.startswith("rgb-d2-") and relief.name.startswith("relief-rgb-d2-")
    assert flat.name.split("-")[-1] != relief.name.split("-")[-1]


def test_mixed_shading_blends_flat_and_relief_by_the_frames_drawn_share(identity):
    levels = np.zeros(12)
    shares = []
    for seed in range(6):
        nuisance = Nuisance(seed=seed, light_angle=150.0, light_contrast=0.3)
        flat, relief, mixed = (
            render_face(identity, levels, nuisance, shading=s).astype(float)
            for s in ("flat", "relief", "mixed")
        )
        unclipped = (np.minimum(flat, relief) > 5) & (np.maximum(flat, relief) < 250)
        differs = (np.abs(relief - flat) > 20) & unclipped  # pixels the shading changes clearly
        share = (mixed - flat)[differs] / (relief - flat)[differs]
        assert np.abs(share - mixed_relief_weight(nuisance)).max() < 0.1
        assert np.array_equal(mixed, render_face(identity, levels, nuisance, shading="mixed"))
        shares.append(mixed_relief_weight(nuisance))
    assert min(shares) >= 0.0 and max(shares) <= 1.0 and np.ptp(shares) > 0.3
