"""Relief shading: the face as a height map, lit by a light in 3D.

The flat renderer shades a face with soft 2D highlights and a darker rim. Real faces at AU
resolutions read mostly through shading: dark eye sockets under the brow ridge, the shadow under
the nose and lower lip, creases that are grooves with a lit and a shaded side. Here a face is a
height map in face coordinates (see :mod:`au.data.synthetic.canvas`): the rounded head of the
projector, an identity's bone and soft-tissue relief (brow ridge, eye sockets, cheekbones, nose,
lips, chin), and each frame's expression relief (the frame's wrinkles and creases as grooves, its
soft shading blobs as bulges). Its normals, turned by the head's yaw and pitch, are lit with
Lambert's law by a light whose direction comes from the frame's nuisances, darkened in cavities
(ambient occlusion), and carry the identity's skin texture (blotches and pores, fixed to the
face). The result is one brightness factor per output pixel, 1 where a frontal flat patch faces
the light as a flat face would.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from au.data.synthetic.canvas import DEPTH_RATIO, HeadProjector
from au.data.synthetic.face import BROW_Y, EYE_Y, FaceParts, Mark, mouth_line_y
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import Nuisance

#: Shading styles of the renderer: ``relief`` (this module), ``flat`` (2D shading only) or
#: ``mixed`` (per frame, a blend of the two with a drawn share of relief).
SHADINGS = ("relief", "flat", "mixed")
#: The height map's extent in face coordinates (x0, y0, x1, y1) and its cell size.
GRID_BOX = (-0.42, -0.46, 0.42, 0.64)
GRID_STEP = 0.005
#: Share of the light that reaches every point whatever its normal.
AMBIENT = 0.4
#: How far the key light sits above the camera axis on average (photos are lit from above).
OVERHEAD = 0.35
#: Groove depth of a fully opaque wrinkle, and the height of a blob of brightness 1.
GROOVE_DEPTH = 0.006
BLOB_HEIGHT = 0.12


def _grid_axes() -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = GRID_BOX
    xs = np.arange(x0, x1 + GRID_STEP / 2, GRID_STEP, dtype=np.float32)
    ys = np.arange(y0, y1 + GRID_STEP / 2, GRID_STEP, dtype=np.float32)
    return xs, ys


def _gaussians(
    xs: np.ndarray, ys: np.ndarray, bumps: list[tuple[float, float, float, float, float]]
) -> np.ndarray:
    """Sum of Gaussians (cx, cy, ax, ay, height) on the grid, (len(ys), len(xs)).

    Each is cut at 2.5 radii, so a bump leaves the face beyond that untouched.
    """
    total = np.zeros((ys.size, xs.size), np.float32)
    for cx, cy, ax, ay, height in bumps:
        across = _cut_gaussian((xs - cx) / ax)[None, :]
        down = _cut_gaussian((ys - cy) / ay)[:, None]
        total += np.float32(height) * down * across
    return total


def _cut_gaussian(distance: np.ndarray) -> np.ndarray:
    return np.where(np.abs(distance) < 2.5, np.exp(-(distance**2)), 0.0).astype(np.float32)


@lru_cache(maxsize=64)
def identity_relief(identity: Identity) -> np.ndarray:
    """Bone and soft-tissue relief of a resting face, in face units (grid shape)."""
    xs, ys = _grid_axes()
    mouth_y = mouth_line_y(identity)
    tip_y = identity.nose_length
    bumps = [
        (0.0, tip_y - 0.018, 0.022, 0.02, 0.012),  # nose tip
        (0.0, 0.5 * (EYE_Y + tip_y), 0.012, 0.08, 0.006),  # nose bridge
        (0.0, mouth_y - 0.012, 0.85 * identity.mouth_width, 0.012, 0.008),  # upper lip
        (0.0, mouth_y + 0.014, 0.75 * identity.mouth_width, 0.014, 0.009),  # lower lip
        (0.0, mouth_y - 0.045, 0.012, 0.02, -0.003),  # philtrum
        (0.0, mouth_y + 0.052, 0.06, 0.012, -0.006),  # mentolabial sulcus
        (0.0, identity.face_length - 0.07, 0.055, 0.035, 0.01),  # chin boss
        (0.0, BROW_Y - 0.005, 0.03, 0.03, -0.004),  # glabella, between the brows
    ]
    for side in (1.0, -1.0):
        eye_x = side * identity.eye_spacing
        bumps += [
            (eye_x, BROW_Y + 0.006, 0.075, 0.022, 0.012),  # brow ridge
            (eye_x, EYE_Y - 0.004, 0.058, 0.034, -0.022),  # eye socket
            (eye_x, EYE_Y + 0.002, 0.9 * identity.eye_width, 0.012, 0.01),  # eyeball
            (side * (identity.eye_spacing + 0.03), 0.045, 0.06, 0.04, 0.012),  # cheekbone
            (side * 0.03, tip_y - 0.008, 0.016, 0.014, 0.006),  # nostril wing
            (side * (identity.face_width - 0.035), -0.14, 0.035, 0.08, -0.01),  # temple
        ]
    return _gaussians(xs, ys, bumps)


@lru_cache(maxsize=64)
def skin_texture(identity: Identity) -> np.ndarray:
    """Multiplicative skin albedo around 1 (grid shape): blotches and pores fixed to the face."""
    rng = np.random.default_rng(identity.detail_seed)
    xs, ys = _grid_axes()
    shape = (xs.size, ys.size)  # cv2 size order (width, height)
    texture = np.ones((ys.size, xs.size), np.float32)
    for cells, amount in ((24, 0.02), (8, 0.012), (2, 0.01)):
        coarse = rng.normal(0.0, 1.0, (ys.size // cells + 2, xs.size // cells + 2))
        field = cv2.resize(coarse.astype(np.float32), shape, interpolation=cv2.INTER_CUBIC)
        texture += np.float32(amount) * field
    return np.clip(texture, 0.8, 1.2)


def expression_relief(parts: FaceParts) -> np.ndarray:
    """The frame's creases as grooves and its shading blobs as bulges (grid shape)."""
    xs, ys = _grid_axes()
    grooves = np.zeros((ys.size, xs.size), np.float32)
    for mark in parts.marks:
        if not mark.filled and mark.alpha > 0.0:
            _groove(grooves, mark)
    grooves = cv2.GaussianBlur(grooves, (0, 0), 1.2)
    bumps = [  # strong blobs are shadows beside the face (under the jaw), not bulges
        (b.center[0], b.center[1], b.axes[0], b.axes[1], b.value)
        for b in parts.blobs
        if abs(b.value) <= 0.2
    ]
    return _gaussians(xs, ys, bumps) * np.float32(BLOB_HEIGHT) - np.float32(GROOVE_DEPTH) * grooves


def _groove(target: np.ndarray, mark: Mark) -> None:
    x0, y0 = GRID_BOX[0], GRID_BOX[1]
    cells = (mark.points - np.array([x0, y0])) / GRID_STEP
    layer = np.zeros(target.shape, np.uint8)
    width = max(1, round(2.0 * mark.width / GRID_STEP))
    points = np.round(cells * 16).astype(np.int32)  # 4 fractional bits
    cv2.polylines(layer, [points], False, 255, width, cv2.LINE_AA, shift=4)
    np.maximum(target, np.float32(min(mark.alpha, 1.0) / 255.0) * layer, out=target)


def mixed_relief_weight(nuisance: Nuisance) -> float:
    """A frame's share of relief in ``mixed`` shading: uniform in [0, 1], fixed by its seed."""
    return float(np.random.default_rng([nuisance.seed, 9]).uniform())


def light_direction(nuisance: Nuisance) -> np.ndarray:
    """Unit vector towards the key light in camera coordinates (x right, y down, z to camera).

    ``light_angle`` says where the light comes from in the image plane, ``light_contrast`` how
    far it sits off the camera axis (2 x contrast, as a tangent); the key light also sits
    :data:`OVERHEAD` above the axis, as in most photographs.
    """
    angle = math.radians(nuisance.light_angle)
    slant = 2.0 * nuisance.light_contrast
    vector = np.array([slant * math.cos(angle), -slant * math.sin(angle) - OVERHEAD, 1.0])
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def relief_light(
    identity: Identity, parts: FaceParts, projector: HeadProjector, nuisance: Nuisance
) -> np.ndarray:
    """Brightness factor of the face on the grid (lit relief x occlusion x skin texture)."""
    xs, ys = _grid_axes()
    grid_x, grid_y = np.meshgrid(xs, ys)
    relief = identity_relief(identity) + expression_relief(parts)
    height = head_height(projector, grid_x, grid_y) + relief
    slope_y, slope_x = np.gradient(height, GRID_STEP)
    slope_x, slope_y = np.clip(slope_x, -6.0, 6.0), np.clip(slope_y, -6.0, 6.0)
    norm = np.sqrt(slope_x**2 + slope_y**2 + 1.0)
    normal = [-slope_x / norm, -slope_y / norm, 1.0 / norm]
    nx, ny, nz = projector.rotate(*normal)  # turned as the projector turns points
    light = light_direction(nuisance)
    facing = np.maximum(nx * light[0] + ny * light[1] + nz * light[2], 0.0)
    flat = AMBIENT + (1.0 - AMBIENT) * float(light[2])
    lambert = (AMBIENT + (1.0 - AMBIENT) * facing) / np.float32(flat)
    cavity = relief - cv2.GaussianBlur(relief, (0, 0), 3.0)
    occlusion = np.clip(1.0 + 20.0 * cavity, 0.65, 1.08)
    return lambert * occlusion * skin_texture(identity)


def head_height(projector: HeadProjector, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The projector's rounded head (without the nose), continued past the face's outline.

    Inside the outline it is the projector's depth; outside, it keeps falling steeply, so the
    normals along the silhouette stay turned away from the camera instead of snapping back.
    A blur hides the kinks of the outline's polygon.
    """
    half_width = np.interp(y, projector.profile_y, projector.profile_w)
    across = half_width**2 - x**2
    beyond = 5.0 * np.clip(np.abs(x) - half_width, 0.0, None)  # a steep, even fall
    rounded = np.sqrt(np.clip(across, 0.0, None)) - beyond
    along = 1.0 - (y / 0.5) ** 2
    taper = np.sqrt(np.clip(along, 0.0, None)) - np.sqrt(np.clip(-along, 0.0, None))
    height = DEPTH_RATIO * np.where(rounded > 0, rounded * np.maximum(taper, 0.0), rounded)
    height = np.where(taper < 0, height + 0.3 * taper, height)
    return cv2.GaussianBlur(height.astype(np.float32), (0, 0), 2.0)


def face_points(
    projector: HeadProjector, u: np.ndarray, v: np.ndarray, iterations: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """The face point (x, y) seen at face-plane position (u, v): the projector's turn undone.

    ``u`` and ``v`` are positions with shift, scale and roll undone (as
    :class:`au.data.synthetic.appearance.FacePlane` holds them); yaw and pitch move a point by
    its depth, so the turn is undone by fixed-point iteration on the depth.
    """
    if projector.frontal:
        return u, v
    pose = projector.pose
    yaw, pitch = math.radians(pose.yaw), math.radians(pose.pitch)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    x, y = u, v
    for _ in range(iterations):
        z = projector.depth(x, y)
        x = (u - z * sy) / cy
        y = (v - (z * cy - x * sy) * sp) / cp
    return x.astype(np.float32), y.astype(np.float32)


def sample_grid(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of a grid field at face points (x, y); edge values outside the grid."""
    map_x = ((x - GRID_BOX[0]) / GRID_STEP).astype(np.float32)
    map_y = ((y - GRID_BOX[1]) / GRID_STEP).astype(np.float32)
    return cv2.remap(field, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
