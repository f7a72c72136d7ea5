"""Synthetic subjects: the face shape, colouring and resting expression that make one person.

Lengths are in image widths (the face is about 0.6 wide). Besides proportions and colours, each
identity has a *resting face*: small pseudo-AU intensities (``resting_aus``) that are always
applied, so that one subject's neutral face looks like a weak AU of another (naturally raised or
low brows, upturned or downturned mouth corners, hooded or wide-open eyes, full cheeks, lips apart
at rest), plus age lines. This is what makes subject-independent evaluation harder than a random
split, as on real data.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from au.aus import DISFA_AUS

HAIR_STYLES = ("bald", "short", "fringe", "long")
BEARD_STYLES = ("none", "stubble", "full")

Color = tuple[int, int, int]

# Skin tones from very light to very dark (RGB), interpolated by a tone in [0, 1].
_SKIN_TONES = np.array(
    [
        (240, 212, 192),
        (228, 186, 156),
        (206, 154, 118),
        (165, 112, 78),
        (118, 78, 52),
        (78, 52, 36),
    ],
    dtype=float,
)
_HAIR_COLORS = np.array(
    [
        (22, 18, 16),
        (52, 34, 24),
        (92, 60, 36),
        (140, 90, 48),
        (196, 152, 90),
        (150, 60, 30),
        (170, 170, 168),
    ],
    dtype=float,
)
_IRIS_COLORS = np.array(
    [(60, 36, 22), (96, 64, 36), (110, 100, 50), (70, 110, 80), (70, 110, 160), (110, 120, 130)],
    dtype=float,
)
# Resting-face AUs (how likely, and the range of the pseudo-intensity when present).
_RESTING_RANGES: dict[str, tuple[float, float, float]] = {
    "AU1": (0.25, -0.8, 1.3),
    "AU2": (0.2, -0.8, 1.3),
    "AU4": (0.25, -0.6, 1.4),
    "AU5": (0.3, -1.5, 1.3),
    "AU6": (0.2, 0.0, 1.4),
    "AU12": (0.35, -1.3, 1.5),
    "AU17": (0.15, 0.0, 1.2),
    "AU20": (0.1, 0.0, 1.0),
    "AU25": (0.15, 0.3, 1.2),
}


@dataclass(frozen=True)
class Identity:
    """One synthetic subject. Lengths in image widths, colours RGB 0-255."""

    face_width: float  # half-width at the cheekbones
    face_length: float  # from the cheekbone line down to the chin
    jaw_squareness: float  # 0 = round/pointed jaw, 1 = square jaw
    skin: Color
    lips: Color
    brow_color: Color
    brow_thickness: float
    brow_arch: float
    brow_height: float  # offset of the brows (negative = higher)
    brow_tilt: float  # how much lower the tail sits than the head of the brow
    eye_spacing: float  # from the midline to each eye centre
    eye_width: float  # half-width of the eye opening
    eye_opening: float  # height of the upper lid above the eye axis
    eye_tilt: float  # outer corner higher by this much
    lid_crease: float  # gap from lid to crease (small = hooded)
    iris: Color
    nose_length: float  # height of the nose tip below the cheekbone line
    nose_width: float
    mouth_width: float  # half-width
    philtrum: float  # from nose tip to the lip line
    upper_lip: float
    lower_lip: float
    age: float  # 0-1: strength of resting wrinkles
    hair_style: str
    hair_color: Color
    hairline: float  # offset of the hairline (negative = higher)
    beard: str
    shirt: Color
    background_top: Color
    background_bottom: Color
    background_angle: float  # direction of the background gradient, degrees
    resting_aus: tuple[float, ...]  # pseudo-intensities in DISFA_AUS order, added to every frame
    detail_seed: int  # fixes small details (hair strands, skin texture)


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw one subject."""
    tone = float(rng.uniform(0.0, 1.0))
    skin = _jitter(_lerp_palette(_SKIN_TONES, tone), rng, 10)
    age = float(rng.beta(1.5, 3.0))
    hair_color = _hair_color(rng, tone, age)
    return Identity(
        **_sample_shape(rng),
        skin=skin,
        lips=_lip_color(skin, rng),
        brow_color=_darken(hair_color, float(rng.uniform(0.6, 0.95))),
        iris=_jitter(tuple(_IRIS_COLORS[rng.integers(len(_IRIS_COLORS))]), rng, 12),
        age=age,
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.12, 0.38, 0.22, 0.28])),
        hair_color=hair_color,
        hairline=float(rng.uniform(-0.03, 0.02)),
        beard=str(rng.choice(BEARD_STYLES, p=[0.72, 0.16, 0.12])),
        shirt=_random_color(rng, 0.1, 0.8, 0.2, 0.8),
        **_sample_background(rng, skin),
        resting_aus=_sample_resting_aus(rng),
        detail_seed=int(rng.integers(2**31)),
    )


def _sample_shape(rng: np.random.Generator) -> dict[str, float]:
    u = rng.uniform
    eye_width = u(0.046, 0.058)
    return {
        "face_width": u(0.27, 0.32), "face_length": u(0.37, 0.42), "jaw_squareness": u(0, 1),
        "brow_thickness": u(0.012, 0.024), "brow_arch": u(0.004, 0.016),
        "brow_height": u(-0.012, 0.012), "brow_tilt": u(-0.006, 0.012),
        "eye_spacing": u(0.108, 0.128), "eye_width": eye_width,
        "eye_opening": u(0.017, 0.024), "eye_tilt": u(-0.004, 0.007),
        "lid_crease": u(0.006, 0.016), "nose_length": u(0.085, 0.125),
        "nose_width": u(0.034, 0.050), "mouth_width": u(0.082, 0.108),
        "philtrum": u(0.085, 0.1), "upper_lip": u(0.013, 0.021), "lower_lip": u(0.016, 0.027),
    }  # fmt: skip


def _sample_resting_aus(rng: np.random.Generator) -> tuple[float, ...]:
    values = []
    for au in DISFA_AUS:
        chance, low, high = _RESTING_RANGES.get(au, (0.0, 0.0, 0.0))
        present = rng.uniform() < chance
        values.append(round(float(rng.uniform(low, high)), 3) if present else 0.0)
    return tuple(values)


def _sample_background(rng: np.random.Generator, skin: Color) -> dict[str, Color | float]:
    """Two background colours kept well away from the skin colour."""
    colors = []
    while len(colors) < 2:
        color = _random_color(rng, 0.1, 0.65, 0.2, 0.92)
        if np.linalg.norm(np.subtract(color, skin)) > 90:
            colors.append(color)
    return {
        "background_top": colors[0],
        "background_bottom": colors[1],
        "background_angle": float(rng.uniform(0.0, 360.0)),
    }


def _hair_color(rng: np.random.Generator, tone: float, age: float) -> Color:
    if age > 0.55 and rng.uniform() < 0.6:  # grey: the same jitter on every channel
        offset = rng.uniform(-40, 40)
        return tuple(int(c + offset) for c in _HAIR_COLORS[-1])
    # Lighter hair is likelier on lighter skin.
    weights = np.array([3, 3, 2, 1.5, 1.5 * (1 - tone), 0.8 * (1 - tone)]) + 0.05
    index = rng.choice(6, p=weights / weights.sum())
    return _jitter(tuple(_HAIR_COLORS[index]), rng, 12)


def _lip_color(skin: Color, rng: np.random.Generator) -> Color:
    red = np.array(skin, dtype=float) * np.array([0.86, 0.62, 0.64]) + np.array([18, 0, 4])
    return _jitter(tuple(red), rng, 8)


def _random_color(
    rng: np.random.Generator, sat_low: float, sat_high: float, val_low: float, val_high: float
) -> Color:
    rgb = colorsys.hsv_to_rgb(
        rng.uniform(), rng.uniform(sat_low, sat_high), rng.uniform(val_low, val_high)
    )
    return tuple(int(round(255 * c)) for c in rgb)


def _lerp_palette(palette: np.ndarray, position: float) -> tuple[float, ...]:
    scaled = position * (len(palette) - 1)
    low = min(int(scaled), len(palette) - 2)
    frac = scaled - low
    return tuple((1 - frac) * palette[low] + frac * palette[low + 1])


def _jitter(color: tuple[float, ...], rng: np.random.Generator, amount: float) -> Color:
    noisy = np.clip(np.asarray(color) + rng.uniform(-amount, amount, 3), 0, 255)
    return tuple(int(round(c)) for c in noisy)


def _darken(color: Color, factor: float) -> Color:
    return tuple(int(round(c * factor)) for c in color)
