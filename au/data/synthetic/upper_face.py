"""Upper-face geometry: brows (AU1, AU2, AU4), forehead lines, furrows, eyes (AU5, AU6).

See :mod:`au.data.synthetic.face` for coordinates, marks and blobs.
"""

from __future__ import annotations

import numpy as np

from au.data.synthetic.canvas import bezier, ellipse, mirror
from au.data.synthetic.expressions import Controls
from au.data.synthetic.face import BROW_Y, EYE_Y, Blob, Eye, FaceParts, Mark, strength
from au.data.synthetic.identity import Identity


def add_brows(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    """Brows (AU1, AU2, AU4), the furrows between them and the forehead lines above."""
    t = np.linspace(0.0, 1.0, 14)
    inner_x = identity.eye_spacing - 0.85 * identity.eye_width
    outer_x = identity.eye_spacing + 1.3 * identity.eye_width
    base_y = BROW_Y + identity.brow_height
    x = inner_x + (outer_x - inner_x) * t - controls.brow_pull * (1 - t) ** 2
    y = (
        base_y
        + identity.brow_tilt * t**2
        - (identity.brow_arch + controls.brow_arch) * np.sin(np.pi * t**1.6)
        - controls.brow_inner_raise * (1 - t) ** 1.5
        - controls.brow_outer_raise * t**1.2
        + controls.brow_lower * (1 - 0.45 * t)
    )
    half = (
        0.5 * identity.brow_thickness * (0.75 + 0.25 * np.minimum(t / 0.15, 1)) * (1 - 0.6 * t**1.4)
    )
    right = np.concatenate(
        [np.stack([x, y - 1.1 * half], 1), np.stack([x, y + 0.9 * half], 1)[::-1]]
    )
    parts.brows += [right, mirror(right)]
    _add_furrows(parts, x[0], y[0] - half[0], controls)
    _add_forehead_lines(parts, identity, controls, base_y)


def _add_furrows(parts: FaceParts, inner_x: float, inner_top: float, controls: Controls) -> None:
    alpha = 0.8 * strength(controls.brow_furrow)
    if alpha <= 0.0:
        return
    for offset, length, fade in ((0.3, 0.046, 1.0), (0.65, 0.03, 0.7)):
        x = offset * inner_x
        right = bezier(
            np.array([x, inner_top + 0.006]),
            np.array([x * 0.8, inner_top - 0.016]),
            np.array([x * 1.05, inner_top - length]),
            6,
        )
        parts.marks += [
            Mark(right, alpha * fade, 0.0045),
            Mark(mirror(right), alpha * fade, 0.0045),
        ]


def _add_forehead_lines(
    parts: FaceParts, identity: Identity, controls: Controls, base_y: float
) -> None:
    age = 0.35 * max(identity.age - 0.25, 0.0)
    central = 0.55 * strength(controls.forehead_central) + age
    lateral = 0.45 * strength(controls.forehead_lateral) + age
    for k in range(3):
        fade = 1.0 - 0.25 * k
        y0 = base_y - 0.058 - 0.021 * k
        if central > 0.0:
            x = np.linspace(-0.085, 0.085, 9)
            y = y0 - 0.4 * controls.brow_inner_raise - 0.005 * (1 - (x / 0.085) ** 2)
            parts.marks.append(Mark(np.stack([x, y], 1), central * fade))
        if lateral > 0.0:
            x = np.linspace(0.085, 0.185, 6)
            y = (
                y0
                - 0.45 * controls.brow_outer_raise * (x / 0.185)
                + 0.006 * ((x - 0.085) / 0.1) ** 2
            )
            right = np.stack([x, y], 1)
            parts.marks += [Mark(right, lateral * fade), Mark(mirror(right), lateral * fade)]


def add_eyes(parts: FaceParts, identity: Identity, controls: Controls) -> None:
    """Both eyes (AU5 upper lid, AU6 lower lid and crow's feet), creases and eye shading."""
    for side in (1.0, -1.0):
        parts.eyes.append(_eye(parts, identity, controls, side))


_EYE_T = np.linspace(0.0, 1.0, 13)  # inner corner to outer corner
_UPPER_LID = np.sin(np.pi * _EYE_T**0.85)  # highest a little towards the nose
_LOWER_LID = np.sin(np.pi * _EYE_T**1.2)  # lowest a little towards the temple


def _eye(parts: FaceParts, identity: Identity, controls: Controls, side: float) -> Eye:
    t = _EYE_T
    center_x, width, rest = side * identity.eye_spacing, identity.eye_width, identity.eye_opening
    base_x = center_x + side * width * (2 * t - 1)
    base_y = EYE_Y + 0.003 + (-identity.eye_tilt - 0.003) * t
    upper_h = max(rest + controls.upper_lid_raise, 0.001)
    lower_h = max(0.5 * rest - controls.lower_lid_raise, 0.0008)
    upper = np.stack([base_x, base_y - upper_h * _UPPER_LID], 1)
    lower = np.stack([base_x, base_y + lower_h * _LOWER_LID], 1)
    radius = 0.37 * width
    iris_center = (center_x, EYE_Y - rest + 0.78 * radius)
    clip = _opening_clipper(upper, lower, side)
    crease_h = rest + identity.lid_crease + 0.6 * max(controls.upper_lid_raise, 0.0)
    crease = np.stack([base_x, base_y - crease_h * _UPPER_LID], 1)[1:-1]
    parts.marks.append(Mark(crease, 0.35, 0.003))
    _add_eye_wrinkles(parts, identity, controls, upper[-1], lower, side)
    parts.blobs += [
        Blob((center_x, EYE_Y - 0.014), (1.15 * width, 0.026), -0.07),
        Blob((center_x, EYE_Y + lower_h + 0.013), (0.9 * width, 0.008), -0.05),
    ]
    glint = (center_x - 0.35 * radius, iris_center[1] - 0.35 * radius)
    return Eye(
        opening=np.concatenate([upper, lower[::-1][1:-1]]),
        upper_lid=upper,
        lower_lid=lower,
        iris=clip(ellipse(iris_center, (radius, radius), count=28)),
        pupil=clip(ellipse(iris_center, (0.42 * radius, 0.42 * radius), count=16)),
        glint=clip(ellipse(glint, (0.17 * radius, 0.17 * radius), count=10)),
    )


def _opening_clipper(upper: np.ndarray, lower: np.ndarray, side: float):
    """A function clipping points to the eye opening (which is convex along every vertical)."""
    if side < 0:  # make x increase
        upper, lower = upper[::-1], lower[::-1]
    xs = upper[:, 0]

    def clip(points: np.ndarray) -> np.ndarray:
        x = np.clip(points[:, 0], xs[0], xs[-1])
        top = np.interp(x, xs, upper[:, 1])
        bottom = np.interp(x, xs, lower[:, 1])
        return np.stack([x, np.clip(points[:, 1], top, bottom)], 1)

    return clip


def _add_eye_wrinkles(
    parts: FaceParts,
    identity: Identity,
    controls: Controls,
    outer_corner: np.ndarray,
    lower: np.ndarray,
    side: float,
) -> None:
    crow = 0.75 * strength(controls.crows_feet) + 0.25 * max(identity.age - 0.35, 0.0)
    if crow > 0.0:
        for angle in (-30.0, -4.0, 24.0):
            direction = np.array([side * np.cos(np.radians(angle)), np.sin(np.radians(angle))])
            start = outer_corner + np.array([side * 0.01, 0.002])
            points = start + np.outer([0.0, 0.5, 1.0], direction) * 0.034
            points[1, 1] -= 0.002
            parts.marks.append(Mark(points, crow, 0.0035))
    bag = 0.55 * strength(controls.eye_bag) + 0.2 * identity.age
    if bag > 0.0:
        below = lower[2:-1] + np.array([0.0, 0.011 - 0.25 * controls.cheek_raise])
        below[:, 1] += 0.004 * np.abs(below[:, 0] - lower[6, 0]) / identity.eye_width
        parts.marks.append(Mark(below, bag, 0.0035))
    bulge = 0.5 * strength(controls.eye_bag)
    if bulge > 0.0:  # the lower edge of the raised cheek
        eye_x = side * identity.eye_spacing
        fold = bezier(
            np.array([eye_x - side * 0.5 * identity.eye_width, EYE_Y + 0.05]),
            np.array([eye_x + side * 0.3 * identity.eye_width, EYE_Y + 0.075]),
            np.array([eye_x + side * 1.3 * identity.eye_width, EYE_Y + 0.045]),
            8,
        )
        parts.marks.append(Mark(fold - np.array([0.0, controls.cheek_raise]), bulge, 0.004))
