"""Drawing the nuisances of a frame: glasses, occluders (a hand or a bar) and the sensor.

Sensor noise comes from ``Nuisance.seed``; the look of the glasses from the identity (each
subject owns one pair) and the colour of a bar from the identity and the occluder's pose, so
that props do not flicker between frames whose noise seeds differ.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from au.data.synthetic.canvas import Canvas, bezier, ellipse
from au.data.synthetic.face import EYE_Y
from au.data.synthetic.identity import Identity
from au.data.synthetic.nuisances import Nuisance

_FRAME_COLORS = ((18, 18, 20), (72, 42, 26), (160, 128, 64), (176, 176, 182), (120, 24, 36))
_GLASSES_LIFT = 0.035  # glasses stand in front of the face
_THERMAL_LENS = (58, 58, 58)  # glass is opaque and cold in long-wave infrared
_THERMAL_FRAME = (78, 78, 78)
_THERMAL_HAND = (168, 168, 168)
_CIRCLE = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)


def draw_glasses(canvas: Canvas, identity: Identity, nuisance: Nuisance, thermal: bool) -> None:
    """Glasses over the eyes: lenses (tinted, with a glare; opaque in thermal) and a frame."""
    if nuisance.glasses == "none":
        return
    rng = np.random.default_rng([identity.detail_seed, 1])  # each subject owns one pair
    frame = _THERMAL_FRAME if thermal else _FRAME_COLORS[rng.integers(len(_FRAME_COLORS))]
    width = rng.uniform(0.005, 0.009)
    lenses = [_lens(identity, side, nuisance.glasses) for side in (1.0, -1.0)]
    if thermal:
        canvas.fill(lenses, _THERMAL_LENS, lift=_GLASSES_LIFT)
    else:
        canvas.fill(lenses, (205, 218, 228), lift=_GLASSES_LIFT, alpha=0.14)
        glares = [lens[[2, 3]] * 0.75 + lens.mean(axis=0) * 0.25 for lens in lenses]
        canvas.stroke(glares, (255, 255, 255), 0.006, lift=_GLASSES_LIFT, alpha=0.35)
    canvas.stroke(lenses, frame, width, closed=True, lift=_GLASSES_LIFT)
    inner = lenses[0][np.argmin(lenses[0][:, 0])]
    bridge = bezier(inner, np.array([0.0, inner[1] - 0.014]), inner * np.array([-1.0, 1.0]), 8)
    temples = [
        np.array([lens[np.argmax(side * lens[:, 0])], [side * identity.face_width, EYE_Y - 0.012]])
        for side, lens in zip((1.0, -1.0), lenses, strict=True)
    ]
    canvas.stroke([bridge, *temples], frame, width, lift=_GLASSES_LIFT)


def _lens(identity: Identity, side: float, style: str) -> np.ndarray:
    center = (side * identity.eye_spacing, EYE_Y - 0.002)
    if style == "round":
        radius = 1.22 * identity.eye_width
        return ellipse(center, (radius, 0.9 * radius), count=32)
    theta = np.linspace(0.0, 2 * np.pi, 32, endpoint=False)
    cos, sin = np.cos(theta), np.sin(theta)
    half = (1.42 * identity.eye_width, 0.037)
    x = center[0] + half[0] * np.sign(cos) * np.abs(cos) ** 0.35
    y = center[1] + half[1] * np.sign(sin) * np.abs(sin) ** 0.35
    return np.stack([x, y], 1)


def draw_occluder(
    canvas: Canvas, identity: Identity, nuisance: Nuisance, thermal: bool, stencil: bool = False
) -> None:
    """A hand or a bar in front of part of the face; ``stencil`` draws its shape in black."""
    if nuisance.occlusion == "none":
        return
    center = np.array([nuisance.occlusion_x, nuisance.occlusion_y])
    grow = 0.8 + 0.6 * nuisance.occlusion_size
    angle = np.radians(nuisance.occlusion_angle)
    along = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-np.sin(angle), np.cos(angle)])
    rng = np.random.default_rng(
        [identity.detail_seed, 2, round(nuisance.occlusion_angle * 10) % 4096]
    )
    if nuisance.occlusion == "bar":
        half_width = (0.035 + 0.05 * nuisance.occlusion_size) * across
        ends = center + np.outer([-0.6, 0.6], along)
        bar = np.array(
            [ends[0] - half_width, ends[1] - half_width, ends[1] + half_width, ends[0] + half_width]
        )
        color = _THERMAL_FRAME if thermal else tuple(int(c) for c in rng.integers(20, 235, 3))
        canvas.fill([bar], (0, 0, 0) if stencil else color, surface=False)
        return
    tone = rng.uniform(0.9, 1.05)
    skin = _THERMAL_HAND if thermal else tuple(int(min(c * tone, 255)) for c in identity.skin)
    rim = tuple(int(c * 0.72) for c in skin)
    if stencil:
        skin = rim = (0, 0, 0)
    _draw_hand(canvas, center, along * grow, across * grow, skin, rim)


def _draw_hand(
    canvas: Canvas,
    center: np.ndarray,
    along: np.ndarray,
    across: np.ndarray,
    skin: tuple[int, int, int],
    rim: tuple[int, int, int],
) -> None:
    """A flat hand: forearm, palm, four fingers and a thumb, each with a darker rim."""
    scale = float(np.linalg.norm(along))
    arm = np.array(
        [
            center - 0.05 * along + 0.055 * across,
            center - 0.9 * along + 0.07 * across,
            center - 0.9 * along - 0.07 * across,
            center - 0.05 * along - 0.055 * across,
        ]
    )
    palm = (
        center + np.outer(np.cos(_CIRCLE), 0.085 * along) + np.outer(np.sin(_CIRCLE), 0.07 * across)
    )
    fingers = []
    for k, length in enumerate((0.075, 0.088, 0.085, 0.07)):
        base = center + 0.055 * along + (k - 1.5) * 0.03 * across
        fingers.append(np.array([base, base + length * along]))
    thumb_base = center + 0.05 * across - 0.02 * along
    fingers.append(np.array([thumb_base, thumb_base + 0.06 * across + 0.045 * along]))
    for color, grow in ((rim, 1.0), (skin, 0.78)):
        canvas.stroke(fingers, color, 0.028 * scale * grow, surface=False)
    for shape in (arm, palm):  # separately: overlapping polygons in one call make holes
        canvas.fill([shape], rim, surface=False)
        canvas.fill([_shrink(shape, 0.93)], skin, surface=False)
    # Skin over the palm's rim where the fingers join it.
    joins = [np.stack([f[0], 0.3 * f[0] + 0.7 * f[1]]) for f in fingers[:4]]
    canvas.stroke(joins, skin, 0.022 * scale, surface=False)


def _shrink(polygon: np.ndarray, factor: float) -> np.ndarray:
    middle = polygon.mean(axis=0)
    return middle + (polygon - middle) * factor


def apply_sensor(image: np.ndarray, nuisance: Nuisance) -> np.ndarray:
    """Blur, noise and JPEG artefacts on a float image (H, W[, 3]) in 0-255; returns uint8."""
    size = image.shape[1]
    if nuisance.blur_sigma > 0.0:
        image = cv2.GaussianBlur(image, (0, 0), nuisance.blur_sigma * size / 128.0)
    if nuisance.noise_sigma > 0.0:
        image = image + _noise(image.shape, nuisance.seed) * np.float32(nuisance.noise_sigma)
    pixels = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if nuisance.jpeg_quality > 0:
        pixels = _jpeg_roundtrip(pixels, nuisance.jpeg_quality)
    return pixels


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Unit Gaussian noise of ``shape`` (H, W[, C]): a window of a fixed bank picked by ``seed``.

    Slicing a precomputed bank is ten times cheaper than drawing fresh samples per frame; the
    window's offset (any of size**2 positions) and flips change with the seed.
    """
    size = shape[0]
    bank = _noise_bank(size)
    x, y = seed % size, (seed // size) % size
    window = bank[y : y + size, x : x + size]
    if (seed // (size * size)) % 2:
        window = window[::-1]
    return window if len(shape) == 3 else window[..., (seed // 7) % 3]


@lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    bank = np.random.default_rng(20240601).standard_normal(
        (2 * size, 2 * size, 3), dtype=np.float32
    )
    bank.flags.writeable = False
    return bank


def _jpeg_roundtrip(pixels: np.ndarray, quality: int) -> np.ndarray:
    color = pixels.ndim == 3
    source = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if color else pixels
    ok, encoded = cv2.imencode(".jpg", source, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode a frame at quality {quality}")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if color else decoded
