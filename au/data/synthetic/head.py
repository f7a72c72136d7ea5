"""Everything around the face that no AU moves: background, shoulders, neck, ears, hair, beard.

Shapes are in face coordinates (see :mod:`au.data.synthetic.canvas`) and drawn with the
silhouette projection, except the beard, which lies on the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from au.data.synthetic.appearance import Palette, rgb_palette, thermal_palette
from au.data.synthetic.canvas import bezier, ellipse, mirror
from au.data.synthetic.face import HEAD_TOP, mouth_line_y
from au.data.synthetic.identity import Color, Identity

_HAIR_VOLUME = {"bald": 0.0, "short": 0.022, "fringe": 0.03, "long": 0.038}
_SIDE_BOTTOM = {"bald": -0.02, "short": -0.025, "fringe": -0.02, "long": 0.17}


def background(
    identity: Identity, colors: tuple[Color, Color], size: int, channels: int
) -> np.ndarray:
    """A soft two-colour gradient with a brighter patch, (size, size, channels) uint8."""
    grid = (np.arange(16, dtype=np.float32) + 0.5) / 16 - 0.5
    u, v = np.meshgrid(grid, grid)
    angle = np.radians(identity.background_angle)
    ramp = np.clip(0.5 + 1.2 * (u * np.cos(angle) + v * np.sin(angle)), 0.0, 1.0)[..., None]
    top, bottom = (np.asarray(c, np.float32)[:channels] for c in colors)
    spot_x, spot_y = 0.3 * np.cos(3 * angle), 0.3 * np.sin(2 * angle)
    spot = np.exp(-((u - spot_x) ** 2 + (v - spot_y) ** 2) / 0.05)[..., None]
    small = (1 - ramp) * top + ramp * bottom + 25.0 * spot
    image = cv2.resize(
        np.clip(small, 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR
    )
    return image.reshape(size, size, channels)


def shoulders(identity: Identity) -> tuple[np.ndarray, np.ndarray]:
    """The shirt (with a V neckline) and the neck."""
    width = 0.42 * identity.face_width
    shirt = np.array(
        [
            [-0.75, 0.75],
            [-0.62, 0.56],
            [-0.36, 0.47],
            [-width - 0.01, 0.44],
            [0.0, 0.52],
            [width + 0.01, 0.44],
            [0.36, 0.47],
            [0.62, 0.56],
            [0.75, 0.75],
        ]
    )
    neck = np.array([[-width, 0.1], [width, 0.1], [width * 1.08, 0.56], [-width * 1.08, 0.56]])
    return shirt, neck


def ears(identity: Identity) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Ear shapes and the curve inside each ear."""
    outer = ellipse((identity.face_width - 0.002, -0.01), (0.03, 0.058), 8.0, 20)
    inner = bezier(
        np.array([identity.face_width + 0.008, -0.05]),
        np.array([identity.face_width + 0.026, -0.01]),
        np.array([identity.face_width + 0.01, 0.03]),
        8,
    )
    return [outer, mirror(outer)], [inner, mirror(inner)]


def hair_back(identity: Identity) -> np.ndarray | None:
    """Long hair falling behind the head and neck, or None."""
    if identity.hair_style != "long":
        return None
    width = identity.face_width + _HAIR_VOLUME["long"] + 0.03
    theta = np.linspace(np.pi, 2 * np.pi, 17)
    top = np.stack([width * np.cos(theta), (HEAD_TOP + 0.04) * np.sin(theta)], 1)
    bottom = np.array([[width + 0.03, 0.42], [0.0, 0.46], [-width - 0.03, 0.42]])
    return np.concatenate([top, bottom])


def hair_front(identity: Identity) -> list[np.ndarray]:
    """The hair over the skull down to the hairline (fringe or sideburns).

    Bald heads keep two patches above the ears (two polygons: draw them one by one).
    """
    width = identity.face_width
    if identity.hair_style == "bald":
        patch = np.array(
            [
                [width - 0.01, -0.01],
                [width - 0.012, -0.13],
                [width + 0.012, -0.16],
                [width + 0.02, -0.03],
            ]
        )
        return [patch, mirror(patch)]
    volume, bottom = _HAIR_VOLUME[identity.hair_style], _SIDE_BOTTOM[identity.hair_style]
    theta = np.linspace(np.pi, 2 * np.pi, 25)
    outer = np.stack([(width + volume) * np.cos(theta), (HEAD_TOP + volume) * np.sin(theta)], 1)
    outer = np.concatenate([[[-width - volume, bottom]], outer, [[width + volume, bottom]]])
    x = np.linspace(width - 0.01, -width + 0.01, 31)
    top_y = -0.285 + identity.hairline
    line_y = top_y + (-0.14 - top_y) * (np.abs(x) / width) ** 2.5
    if identity.hair_style == "fringe":
        cover = np.clip(1.3 - 1.5 * np.abs(x) / width, 0.0, 1.0)
        line_y += cover * (-0.205 - line_y) + 0.008 * cover * np.sin(x * 90.0) ** 2
    inner = np.stack([x, line_y], 1)
    sides = np.array([[width - 0.006, bottom], [width - 0.012, -0.1]])
    return [np.concatenate([outer, sides, inner, mirror(sides)[::-1]])]


def hair_strands(identity: Identity) -> list[np.ndarray]:
    """A few curved strands that give the hair texture (fixed per identity)."""
    if identity.hair_style == "bald":
        return []
    rng = np.random.default_rng(identity.detail_seed + 1)
    strands = []
    for x in np.sort(rng.uniform(-0.85, 0.85, 14)) * identity.face_width:
        hairline = -0.285 + identity.hairline + 0.145 * (abs(x) / identity.face_width) ** 2.5
        start = np.array([x, hairline - 0.012])
        end = np.array([0.45 * x, -HEAD_TOP + 0.03])
        control = 0.5 * (start + end) + np.array([0.25 * x + rng.uniform(-0.01, 0.01), 0.0])
        strands.append(bezier(start, control, end, 8))
    return strands


def beard(identity: Identity, outline: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The beard area (jaw, chin and upper lip) and which of its points lie on the outline."""
    if identity.beard == "none":
        return None
    jaw = outline[outline[:, 1] > -0.005]
    jaw = jaw[np.argsort(np.arctan2(jaw[:, 1], jaw[:, 0]))]  # right side, down, left side
    mouth_y = mouth_line_y(identity)
    upper = np.array(
        [
            [identity.face_width * 0.8, 0.0],
            [identity.mouth_width + 0.05, mouth_y - 0.05],
            [identity.nose_width + 0.004, identity.nose_length + 0.02],
            [0.0, identity.nose_length + 0.024],
        ]
    )
    ridge = np.concatenate([upper, mirror(upper)[::-1][1:]])[::-1]
    points = np.concatenate([jaw, ridge])
    on_outline = np.arange(len(points)) < len(jaw)
    return points, on_outline


@dataclass(frozen=True)
class Backdrop:
    """What neither AUs nor pose change, per identity and modality (see :func:`backdrop`)."""

    palette: Palette
    background: np.ndarray  # (big, big[, 3]); copy before drawing on it
    hair_back: np.ndarray | None
    hair_front: list[np.ndarray]
    strands: list[np.ndarray]
    shirt: np.ndarray
    neck: np.ndarray
    ears: list[np.ndarray]
    ear_curves: list[np.ndarray]


@lru_cache(maxsize=32)
def backdrop(identity: Identity, thermal: bool, big: int) -> Backdrop:
    """The backdrop of ``identity`` drawn at ``big`` pixels (cached: its arrays are read-only)."""
    palette = thermal_palette(identity) if thermal else rgb_palette(identity)
    image = background(identity, palette.background, big, 1 if thermal else 3)
    image.flags.writeable = False
    return Backdrop(
        palette,
        image.squeeze(),
        hair_back(identity),
        hair_front(identity),
        hair_strands(identity),
        *shoulders(identity),
        *ears(identity),
    )
