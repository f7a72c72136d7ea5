"""How each Action Unit deforms the synthetic face.

An AU never moves drawing points itself: it adds to named :class:`Controls` (how far the inner
brow rises, how far the lip corners are pulled, how deep the nasolabial fold is...), and
:mod:`au.data.synthetic.face` builds the geometry from an identity and the controls. The
deformations of several AUs therefore add up on one face, and each AU only reaches the parts of
the face its controls steer. Displacements are in image widths at intensity 5 (level 1.0) and
scale linearly with intensity; wrinkle controls are opacities.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from au.aus import DISFA_AUS


@dataclass(frozen=True)
class Controls:
    """The expression state of a face (0 = relaxed). See :data:`AU_EFFECTS` for who sets what."""

    brow_inner_raise: float = 0.0  # inner brow ends up
    brow_outer_raise: float = 0.0  # outer brow ends up
    brow_arch: float = 0.0  # extra arching of the brow
    brow_lower: float = 0.0  # brows down (more at the inner end)
    brow_pull: float = 0.0  # inner brow ends towards the midline
    forehead_central: float = 0.0  # horizontal lines above the inner brows
    forehead_lateral: float = 0.0  # horizontal lines above the outer brows
    brow_furrow: float = 0.0  # vertical lines between the brows
    upper_lid_raise: float = 0.0
    lower_lid_raise: float = 0.0
    crows_feet: float = 0.0
    cheek_raise: float = 0.0
    cheek_glow: float = 0.0  # brightness of the raised, bulging cheeks
    eye_bag: float = 0.0  # the fold under the lower lid
    ala_raise: float = 0.0  # nostril wings up
    nose_wrinkle: float = 0.0
    upper_lip_raise: float = 0.0
    corner_out: float = 0.0
    corner_up: float = 0.0
    lip_thin: float = 0.0  # fraction of lip thickness lost
    nasolabial: float = 0.0
    marionette: float = 0.0  # lines down from the mouth corners
    stretch_lines: float = 0.0  # short horizontal lines beside the corners
    lower_lip_raise: float = 0.0
    chin_raise: float = 0.0
    chin_dimple: float = 0.0
    mentolabial: float = 0.0  # the crease between lower lip and chin
    lip_gap: float = 0.0
    jaw_drop: float = 0.0


CONTROL_NAMES = tuple(f.name for f in fields(Controls))

#: What each AU does to the controls at intensity 5.
AU_EFFECTS: dict[str, dict[str, float]] = {
    "AU1": {"brow_inner_raise": 0.032, "forehead_central": 1.0},
    "AU2": {"brow_outer_raise": 0.028, "brow_arch": 0.010, "forehead_lateral": 0.8},
    "AU4": {"brow_lower": 0.026, "brow_pull": 0.02, "brow_furrow": 1.0, "upper_lid_raise": -0.003},
    "AU5": {"upper_lid_raise": 0.017},
    "AU6": {"lower_lid_raise": 0.010, "upper_lid_raise": -0.003, "crows_feet": 1.0,
            "cheek_raise": 0.03, "cheek_glow": 0.14, "eye_bag": 1.0},
    "AU9": {"ala_raise": 0.016, "nose_wrinkle": 1.0, "upper_lip_raise": 0.01},
    "AU12": {"corner_out": 0.018, "corner_up": 0.032, "lip_thin": 0.25, "nasolabial": 0.9,
             "cheek_raise": 0.008, "cheek_glow": 0.04},
    "AU15": {"corner_out": -0.004, "corner_up": -0.028, "marionette": 1.0},
    "AU17": {"lower_lip_raise": 0.02, "chin_raise": 0.022, "chin_dimple": 1.0,
             "mentolabial": 0.9},
    "AU20": {"corner_out": 0.036, "corner_up": -0.004, "lip_thin": 0.6, "stretch_lines": 1.0},
    "AU25": {"lip_gap": 0.024},
    "AU26": {"jaw_drop": 0.065},
}  # fmt: skip

_AU20 = DISFA_AUS.index("AU20")


def au_levels(intensities: np.ndarray, resting_aus: tuple[float, ...]) -> np.ndarray:
    """Effective AU levels (12,): (intensity + resting pseudo-intensity) / 5, clipped.

    Raises:
        ValueError: If ``intensities`` is not 12 numbers in DISFA_AUS order.
    """
    values = np.asarray(intensities, dtype=float)
    if values.shape != (len(DISFA_AUS),):
        raise ValueError(
            f"intensities must have shape ({len(DISFA_AUS)},) in the order {DISFA_AUS}, "
            f"got shape {values.shape}"
        )
    return np.clip((values + np.asarray(resting_aus, dtype=float)) / 5.0, -0.4, 1.1)


def expression_controls(intensities: np.ndarray, resting_aus: tuple[float, ...]) -> Controls:
    """The controls of a face showing ``intensities`` (12,) on top of its resting face."""
    levels = au_levels(intensities, resting_aus)
    totals = dict.fromkeys(CONTROL_NAMES, 0.0)
    for au, level in zip(DISFA_AUS, levels, strict=True):
        for name, amount in AU_EFFECTS[au].items():
            totals[name] += amount * float(level)
    # The lip stretcher pulls the corners straight sideways, flattening any up/down pull.
    flatten = min(max(float(levels[_AU20]), 0.0), 1.0)
    up_down = totals["corner_up"] - AU_EFFECTS["AU20"]["corner_up"] * float(levels[_AU20])
    totals["corner_up"] += -0.7 * flatten * up_down
    return Controls(**totals)
