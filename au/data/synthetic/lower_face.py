"""Lower-face geometry: nose, lips, mouth opening and teeth, nasolabial folds, chin boss.

AU9 lifts the nostril wings and wrinkles the bridge. The lip line runs between the two corners
(AU12 pulls them up and out, AU15 down, AU20 straight sideways); the lips part around it (AU25)
and the lower lip follows the jaw (AU26); AU17 pushes the chin boss and lower lip up. See
:mod:`au.data.synthetic.face` for coordinates, marks and blobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from au.data.synthetic.canvas import bezier, ellipse, mirror
from au.data.synthetic.expressions import Controls
from au.data.synthetic.face import EYE_Y, Blob, FaceParts, Mark, mouth_line_y, strength
from au.data.synthetic.identity import Identity


def add_nose(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    """Nose wings, nostrils and tip (AU9 lifts the wings and wrinkles the bridge)."""
    tip, width, lift = identity.nose_length, identity.nose_width, controls.ala_raise
    flare = 1.0 + 0.3 * strength(controls.nose_wrinkle)
    theta = np.radians(np.linspace(-110.0, 95.0, 10))
    wing = np.stack(
        [width * (0.72 + 0.3 * flare * np.cos(theta)), tip - 0.005 - lift + 0.017 * np.sin(theta)],
        1,
    )
    nostril = ellipse((0.42 * width, tip + 0.008 - 0.7 * lift), (0.011 * flare, 0.0045), 18, 12)
    base = bezier(
        np.array([-0.5 * width, tip + 0.008 - 0.7 * lift]),
        np.array([0.0, tip + 0.018 - 0.4 * lift]),
        np.array([0.5 * width, tip + 0.008 - 0.7 * lift]),
        8,
    )
    parts.nostrils += [nostril, mirror(nostril)]
    parts.nose_lines += [wing, mirror(wing), base]
    bridge = bezier(
        np.array([0.021, EYE_Y + 0.01]),
        np.array([0.016, 0.02]),
        np.array([0.55 * width, tip - 0.03]),
        8,
    )
    parts.marks += [Mark(bridge, 0.16, 0.004), Mark(mirror(bridge), 0.16, 0.004)]
    _add_nose_wrinkles(parts, identity, controls)
    parts.blobs += [
        Blob((0.0, tip - 0.016 - 0.5 * lift), (0.022, 0.016), 0.07),
        Blob((0.0, 0.0), (0.011, 0.05), 0.05),
        Blob((0.0, tip + 0.024), (0.032, 0.008), -0.06),
    ]


def _add_nose_wrinkles(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    alpha = 0.85 * strength(controls.nose_wrinkle)
    if alpha <= 0.0:
        return
    lift = controls.ala_raise
    for k in range(3):
        x = np.linspace(-0.024 + 0.002 * k, 0.024 - 0.002 * k, 5)
        y = EYE_Y + 0.016 + 0.01 * k - 0.004 * (1 - (x / 0.024) ** 2)
        parts.marks.append(Mark(np.stack([x, y], 1), alpha * (1 - 0.15 * k), 0.004))
    parts.blobs.append(Blob((0.0, EYE_Y + 0.028), (0.026, 0.016), -0.1 * alpha))
    wing_top = np.array([identity.nose_width + 0.004, identity.nose_length - 0.022 - lift])
    crease = bezier(
        wing_top, wing_top + np.array([0.014, 0.012]), wing_top + np.array([0.016, 0.036]), 6
    )
    parts.marks += [Mark(crease, alpha * 0.8, 0.004), Mark(mirror(crease), alpha * 0.8, 0.004)]
    bunny = np.array([[0.021, EYE_Y + 0.022], [0.031, EYE_Y + 0.036], [0.043, EYE_Y + 0.046]])
    parts.marks += [Mark(bunny, alpha * 0.8), Mark(mirror(bunny), alpha * 0.8)]


_T = np.linspace(-1.0, 1.0, 25)  # position along the mouth, corner to corner
_GAP_SHAPE = (1.0 - _T**2) ** 0.8
_TEETH = np.abs(_T) <= 0.78
_LOWER_TEETH = np.abs(_T) <= 0.55


@dataclass(frozen=True)
class Mouth:
    """Lips as polygons, the opening between them (None when closed) and the teeth in it."""

    upper_lip: np.ndarray
    lower_lip: np.ndarray
    lip_line: np.ndarray
    opening: np.ndarray | None
    teeth: list[np.ndarray]
    corners: np.ndarray  # (2, 2): right, left


def build_mouth(parts: FaceParts, identity: Identity, controls: Controls) -> Mouth:
    """The mouth; adds its folds, lines and shading to ``parts``."""
    rest_y = mouth_line_y(identity)
    half_width = identity.mouth_width + controls.corner_out
    corner_y = rest_y - controls.corner_up + 0.2 * controls.jaw_drop
    center_y = rest_y - 0.3 * controls.upper_lip_raise - 0.7 * controls.lower_lip_raise
    x = half_width * _T
    line = corner_y + (center_y - corner_y) * (1.0 - np.abs(_T) ** 2.5)
    upper_inner = line - 0.35 * max(controls.lip_gap, 0.0) * _GAP_SHAPE
    lower_open = max(0.65 * controls.lip_gap + 0.8 * controls.jaw_drop, 0.0)
    lower_inner = line + lower_open * _GAP_SHAPE
    thin = min(max(controls.lip_thin, -0.3), 0.8)
    bow = (
        1 + 0.22 * np.exp(-(((np.abs(_T) - 0.28) / 0.13) ** 2)) - 0.2 * np.exp(-((_T / 0.09) ** 2))
    )
    upper_top = upper_inner - identity.upper_lip * (1 - thin) * (1 - np.abs(_T) ** 1.8) * bow
    upper_top -= 0.7 * controls.upper_lip_raise * _GAP_SHAPE
    pout = 1.0 + 25.0 * max(controls.lower_lip_raise, 0.0)
    lower_bottom = lower_inner + identity.lower_lip * (1 - 0.8 * thin) * pout * (1 - _T**2) ** 0.6
    lower_bottom -= 0.5 * controls.lower_lip_raise * _GAP_SHAPE
    opened = lower_inner - upper_inner
    corners = np.array([[half_width, corner_y], [-half_width, corner_y]])
    _add_mouth_marks(parts, identity, controls, corners, lower_bottom[12])
    return Mouth(
        upper_lip=_band(x, upper_top, upper_inner),
        lower_lip=_band(x, lower_inner, lower_bottom),
        lip_line=np.stack([x, upper_inner], 1),
        opening=_band(x, upper_inner, lower_inner) if opened.max() > 0.0008 else None,
        teeth=_teeth(x, upper_inner, lower_inner) if opened.max() > 0.0008 else [],
        corners=corners,
    )


def _band(x: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.concatenate([np.stack([x, top], 1), np.stack([x, bottom], 1)[::-1]])


def _teeth(x: np.ndarray, upper_inner: np.ndarray, lower_inner: np.ndarray) -> list[np.ndarray]:
    upper_edge = np.minimum(upper_inner + 0.013, lower_inner)
    teeth = [_band(x[_TEETH], upper_inner[_TEETH], upper_edge[_TEETH])]
    lower_top = np.maximum(lower_inner - 0.007, upper_edge)
    if (lower_inner - lower_top)[_LOWER_TEETH].max() > 0.001:
        teeth.append(_band(x[_LOWER_TEETH], lower_top[_LOWER_TEETH], lower_inner[_LOWER_TEETH]))
    return teeth


def _add_mouth_marks(
    parts: FaceParts,
    identity: Identity,
    controls: Controls,
    corners: np.ndarray,
    lower_lip_bottom: float,
) -> None:
    _add_nasolabial_folds(parts, identity, controls)
    marionette = 0.6 * strength(controls.marionette) + 0.15 * identity.age
    stretch = 0.7 * strength(controls.stretch_lines)
    for corner, side in zip(corners, (1.0, -1.0), strict=True):
        if marionette > 0.0:
            down = corner + np.array(
                [[side * 0.004, 0.006], [side * 0.009, 0.02], [side * 0.011, 0.036]]
            )
            parts.marks.append(Mark(down, marionette, 0.0035))
        if stretch > 0.0:
            out = corner + np.array(
                [[side * 0.005, 0.0], [side * 0.017, 0.001], [side * 0.03, 0.005]]
            )
            parts.marks.append(Mark(out, stretch, 0.003))
        parts.blobs.append(Blob((corner[0], corner[1]), (0.009, 0.007), -0.07))
    sulcus_y = lower_lip_bottom + 0.014 - 0.3 * controls.chin_raise
    x = np.linspace(-0.034, 0.034, 7)
    sulcus = np.stack([x, sulcus_y - 0.006 * (x / 0.034) ** 2], 1)
    parts.marks.append(Mark(sulcus, 0.18 + 0.6 * strength(controls.mentolabial), 0.004))
    parts.blobs += [
        Blob((0.0, lower_lip_bottom + 0.01), (0.035, 0.008), -0.06 - 0.06 * controls.mentolabial),
        Blob((0.0, lower_lip_bottom - 0.008), (0.03, 0.005), 0.08),
    ]


def _add_nasolabial_folds(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    depth = min(max(controls.nasolabial, 0.0), 1.1)
    alpha = 0.5 * strength(controls.nasolabial) + 0.3 * identity.age
    if alpha <= 0.0:
        return
    rest_y = mouth_line_y(identity)
    start = np.array([identity.nose_width + 0.008, identity.nose_length - 0.012])
    end = np.array([identity.mouth_width + 0.022 + 0.02 * depth, rest_y + 0.042 - 0.028 * depth])
    control = np.array(
        [identity.nose_width + 0.032 + 0.02 * depth, 0.5 * (start[1] + end[1]) - 0.01]
    )
    fold = bezier(start, control, end, 10)
    parts.marks += [Mark(fold, alpha, 0.004), Mark(mirror(fold), alpha, 0.004)]


def add_chin(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    """The chin boss: raised and dimpled by AU17, lowered by AU26; the shadow on the neck."""
    chin_y = identity.face_length - 0.055 + controls.jaw_drop - controls.chin_raise
    parts.blobs += [
        Blob((0.0, chin_y), (0.048, 0.03), 0.05 + 0.14 * controls.chin_dimple),
        Blob((0.0, identity.face_length + controls.jaw_drop + 0.035), (0.13, 0.035), -0.35),
    ]
    alpha = 0.5 * strength(controls.chin_dimple)
    if alpha > 0.0:
        dots = _DIMPLE_DOT[None] + _dimple_offsets(identity.detail_seed)[:, None] + (0.0, chin_y)
        parts.marks += [Mark(dot, alpha, filled=True) for dot in dots]


_DIMPLE_DOT = ellipse((0.0, 0.0), (0.0032, 0.0028), 0.0, 6)


@lru_cache(maxsize=256)
def _dimple_offsets(seed: int) -> np.ndarray:
    """Where the dimples of the chin texture sit, (N, 2), fixed per identity."""
    offsets = np.random.default_rng(seed).uniform(-1.0, 1.0, (40, 2))
    return offsets[np.hypot(offsets[:, 0], offsets[:, 1]) < 1.0] * (0.04, 0.022)
