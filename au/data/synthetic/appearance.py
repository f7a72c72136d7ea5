"""Colours and light: the palettes of each modality and the soft shading at output resolution.

Shapes are drawn flat at high resolution in a :class:`Palette`; after downsampling, a shading
field adds the roundness of the face and its :class:`~au.data.synthetic.face.Blob` highlights
and shadows, then the light (level, side lighting, white balance) acts on the whole frame. In
thermal the same fields become temperatures: warm periorbital, nose and mouth regions, cooler
cheeks and forehead, cold hair, glasses and background, and no dependence on the light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from au.data.synthetic.canvas import FRAME_CENTER_Y, HeadProjector
from au.data.synthetic.face import EYE_Y, HEAD_TOP, Blob, mouth_line_y, smoothstep
from au.data.synthetic.identity import Color, Identity
from au.data.synthetic.nuisances import Nuisance


@dataclass(frozen=True)
class Palette:
    """The flat colours of every part of the picture."""

    skin: Color
    neck: Color
    ear_inner: Color
    lips: Color
    lip_line: Color
    mouth: Color
    teeth: Color
    sclera: Color
    iris: Color
    pupil: Color
    glint: Color
    lash: Color
    brow: Color
    nostril: Color
    crease: Color
    hair: Color
    strand: Color
    beard: Color
    shirt: Color
    background: tuple[Color, Color]


def rgb_palette(identity: Identity) -> Palette:
    """The identity's colours."""
    skin = np.array(identity.skin, dtype=float)

    def shade(color: np.ndarray, factor: float | tuple[float, float, float]) -> Color:
        return tuple(int(round(c)) for c in np.clip(color * np.asarray(factor), 0, 255))

    hair = np.array(identity.hair_color, dtype=float)
    return Palette(
        skin=identity.skin, neck=shade(skin, 0.9), ear_inner=shade(skin, 0.72),
        lips=identity.lips, lip_line=shade(np.array(identity.lips, float), 0.5),
        mouth=(62, 22, 26), teeth=(236, 230, 214), sclera=(236, 232, 226), iris=identity.iris,
        pupil=(14, 10, 10), glint=(255, 255, 255), lash=shade(hair, 0.35),
        brow=identity.brow_color, nostril=shade(skin, (0.34, 0.28, 0.27)),
        crease=shade(skin, (0.6, 0.5, 0.48)), hair=identity.hair_color,
        strand=shade(hair + 28, 1.12), beard=shade(hair, 0.6), shirt=identity.shirt,
        background=(identity.background_top, identity.background_bottom),
    )  # fmt: skip


def thermal_palette(identity: Identity) -> Palette:
    """Grey levels standing for temperature (bright = warm); ``Color`` triples of one value."""
    base = 140 + (identity.detail_seed % 21)  # each subject runs a little warmer or cooler

    def level(value: float) -> Color:
        value = int(np.clip(round(value), 0, 255))
        return value, value, value

    background = 30 + identity.detail_seed % 30
    return Palette(
        skin=level(base), neck=level(base - 8), ear_inner=level(base - 30), lips=level(base + 30),
        lip_line=level(base + 45), mouth=level(base + 80), teeth=level(base + 10),
        sclera=level(base + 38), iris=level(base + 42), pupil=level(base + 48),
        glint=level(base + 40), lash=level(base + 25), brow=level(base - 28),
        nostril=level(base + 40), crease=level(base - 18), hair=level(55), strand=level(65),
        beard=level(base - 45), shirt=level(75),
        background=(level(background), level(background + 22)),
    )  # fmt: skip


class FacePlane:
    """The output pixels in face-plane coordinates with the roll undone.

    Without roll, face-plane coordinates are separable (``u`` depends on the column only, ``v``
    on the row only), so shading fields are sums of outer products; :meth:`rolled` turns the
    finished fields into image orientation with one warp.

    Args:
        projector: The frame's projection.
        size: Output width and height in pixels.
    """

    def __init__(self, projector: HeadProjector, size: int) -> None:
        self.projector, self.size = projector, size
        pose, self.zoom = projector.pose, np.float32(projector.zoom)
        centers = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.u = ((centers - np.float32(0.5 + pose.shift_x)) / self.zoom)[None, :]  # (1, S)
        self.v = ((centers - np.float32(FRAME_CENTER_Y + pose.shift_y)) / self.zoom)[:, None]

    def blobs(self, blobs: list[Blob]) -> np.ndarray:
        """The sum of the blobs' Gaussians (S, S), each computed only near its centre."""
        total = np.zeros((self.size, self.size), dtype=np.float32)
        if not blobs:
            return total
        centers = self.projector(np.array([b.center for b in blobs]))
        plane_u, plane_v = self.projector.to_face_plane(centers[:, 0], centers[:, 1])
        squeeze = math.cos(math.radians(self.projector.pose.yaw))
        scale = float(self.zoom) * self.size
        first_u, first_v = float(self.u[0, 0]), float(self.v[0, 0])
        for blob, cu, cv in zip(blobs, plane_u.tolist(), plane_v.tolist(), strict=True):
            axis_u, axis_v = blob.axes[0] * squeeze, blob.axes[1]
            x0, x1 = self._window(cu, first_u, 3.0 * axis_u, scale)
            y0, y1 = self._window(cv, first_v, 3.0 * axis_v, scale)
            if x1 > x0 and y1 > y0:
                across = np.exp(-(((self.u[0, x0:x1] - cu) / axis_u) ** 2))
                down = np.exp(-(((self.v[y0:y1, 0] - cv) / axis_v) ** 2)) * np.float32(blob.value)
                total[y0:y1, x0:x1] += down[:, None] * across[None, :]
        return total

    def _window(self, center: float, first: float, reach: float, scale: float) -> tuple[int, int]:
        low = int((center - reach - first) * scale)
        high = int((center + reach - first) * scale) + 2
        return max(low, 0), min(high, self.size)

    def rolled(self, fields: np.ndarray) -> np.ndarray:
        """Fields (S, S[, K]) turned by the head roll into image orientation."""
        roll = self.projector.pose.roll
        if roll == 0.0:
            return fields
        pose = self.projector.pose
        center = (
            (0.5 + pose.shift_x) * self.size - 0.5,
            (FRAME_CENTER_Y + pose.shift_y) * self.size - 0.5,
        )
        cos, sin = math.cos(math.radians(roll)), math.sin(math.radians(roll))
        matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
        matrix[:, 2] = np.array(center) - matrix[:, :2] @ np.array(center)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(
            fields, matrix, (self.size, self.size), flags=flags, borderMode=cv2.BORDER_REPLICATE
        )


def roundness(identity: Identity, plane: FacePlane) -> np.ndarray:
    """Darkening towards the edge of the face (0 in the middle, about -0.25 at the rim)."""
    height = np.where(plane.v < 0, np.float32(HEAD_TOP), np.float32(identity.face_length))
    radius = np.sqrt((plane.u / np.float32(identity.face_width)) ** 2 + (plane.v / height) ** 2)
    return np.float32(-0.25) * smoothstep((radius - np.float32(0.55)) * np.float32(2.0))


def lit(
    image: np.ndarray,
    shading: np.ndarray,
    mask: np.ndarray,
    plane: FacePlane,
    identity: Identity,
    nuisance: Nuisance,
    face_light: np.ndarray | None = None,
) -> np.ndarray:
    """Apply face shading (unrolled) and the light to an RGB image (S, S, 3); returns float32.

    ``face_light`` (S, S, unrolled) is the light on the skin when the face's relief was lit in
    3D (:mod:`au.data.synthetic.relief`); without it the skin is lit as a flat ellipse.
    """
    angle = math.radians(nuisance.light_angle)
    contrast = nuisance.light_contrast
    light_x, light_y = contrast * math.cos(angle), -contrast * math.sin(angle)
    around = 1.0 + (plane.u * light_x + plane.v * light_y)  # (S, S)
    if face_light is not None:
        on_face = face_light - around
    else:
        normal_x = np.clip(plane.u / np.float32(identity.face_width), -1.0, 1.0)
        normal_y = np.clip(plane.v / np.float32(identity.face_length), -1.0, 1.0)
        on_face = 1.0 + (normal_x * light_x + normal_y * light_y) - around
    fields = plane.rolled(np.dstack([around, on_face, shading]))
    light = (fields[..., 0] + mask * fields[..., 1]) * (1.0 + mask * fields[..., 2])
    balance = 0.1 * nuisance.white_balance
    gains = np.array([1 + balance, 1.0, 1 - balance], dtype=np.float32)
    return image.astype(np.float32) * light[..., None] * (gains * np.float32(nuisance.light_level))


def thermal_blobs(identity: Identity) -> list[Blob]:
    """Where a face is warmer or cooler than its skin, in grey levels."""
    mouth_y = mouth_line_y(identity)
    inner_x = identity.eye_spacing - identity.eye_width
    blobs = [
        Blob((0.0, identity.nose_length - 0.03), (0.03, 0.06), 14.0),
        Blob((0.0, mouth_y), (identity.mouth_width + 0.01, 0.03), 22.0),
        Blob((0.0, -0.22), (0.16, 0.07), -10.0),
        Blob((0.0, identity.face_length + 0.05), (0.12, 0.04), -25.0),
    ]
    for side in (1.0, -1.0):
        blobs += [
            Blob((side * inner_x, EYE_Y + 0.004), (0.016, 0.013), 48.0),
            Blob((side * identity.eye_spacing, EYE_Y), (0.05, 0.02), 12.0),
            Blob((side * (identity.eye_spacing + 0.03), 0.07), (0.065, 0.055), -16.0),
        ]
    return blobs


def warmed(
    image: np.ndarray, identity: Identity, plane: FacePlane, mask: np.ndarray, shading: np.ndarray
) -> np.ndarray:
    """Thermal image (S, S) float32: flat temperatures plus warm and cool regions."""
    field = plane.blobs(thermal_blobs(identity)) + np.float32(45.0) * shading
    return image.astype(np.float32) + mask * plane.rolled(field)
