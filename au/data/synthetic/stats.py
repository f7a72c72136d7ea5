"""Label statistics of an index table: AU positive rates, co-occurrence, emotions and nuisances.

Used by the generator's CLI and dataset card to show how the synthetic set compares with DISFA,
and usable on any index table (a loaded ``AUIndex.table``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

_DISFA_FRAMES = 130_814
#: Per-frame positive rates (intensity >= 2) the synthetic set targets. The 8 detection AUs are
#: DISFA's (frame counts of 130,814); AU5, AU15, AU17 and AU20 are approximations.
TARGET_RATES: dict[str, float] = {
    "AU1": 6506 / _DISFA_FRAMES,
    "AU2": 5644 / _DISFA_FRAMES,
    "AU4": 19933 / _DISFA_FRAMES,
    "AU5": 0.02,
    "AU6": 10327 / _DISFA_FRAMES,
    "AU9": 5473 / _DISFA_FRAMES,
    "AU12": 16851 / _DISFA_FRAMES,
    "AU15": 0.03,
    "AU17": 0.05,
    "AU20": 0.02,
    "AU25": 36247 / _DISFA_FRAMES,
    "AU26": 11533 / _DISFA_FRAMES,
}
APPROXIMATE_TARGETS = ("AU5", "AU15", "AU17", "AU20")
#: Key co-occurrences (AU, given AU), as in DISFA: lips part with jaw drop, cheek raiser with
#: lip corner puller, inner with outer brow raiser.
KEY_PAIRS: tuple[tuple[str, str], ...] = (
    ("AU25", "AU26"),
    ("AU12", "AU6"),
    ("AU1", "AU2"),
    ("AU2", "AU1"),
)
CORE_COLUMNS = ("path", "subject", "frame", "fold", "emotion", "episode")
POSE_COLUMNS = ("yaw", "pitch", "roll")
POSE_BINS_DEGREES = (-180, -15, -5, 5, 15, 180)
#: The nuisances :func:`format_statistics` shows (when the table has them).
KEY_NUISANCES = ("modality", "low_light", "glasses", "occlusion", "yaw", "pitch", "roll")
#: Columns of the still regimes :func:`format_statistics` also shows.
STILL_COLUMNS = ("phase", "difficulty", "resolution")
RELATIVE_TOLERANCE = 0.35
ABSOLUTE_TOLERANCE = 0.02


def rate_tolerance(target: float) -> float:
    """Allowed |rate - target|: 35% of the target or 2 points, whichever is larger."""
    return max(RELATIVE_TOLERANCE * target, ABSOLUTE_TOLERANCE)


def positives(table: pd.DataFrame, aus: Sequence[str], threshold: float = 2) -> pd.DataFrame:
    """Boolean (N, A) frame: label value >= ``threshold`` (uncoded cells count as negative)."""
    return pd.DataFrame({au: table[au].fillna(-1) >= threshold for au in aus})


def au_rates(table: pd.DataFrame, aus: Sequence[str], threshold: float = 2) -> pd.Series:
    """Fraction of rows on which each AU is present."""
    return positives(table, aus, threshold).mean()


def cooccurrence(table: pd.DataFrame, aus: Sequence[str], threshold: float = 2) -> pd.DataFrame:
    """P(row AU present | column AU present); a column whose AU never occurs is NaN."""
    present = positives(table, aus, threshold).to_numpy(dtype=np.float64)  # (N, A)
    joint = present.T @ present  # (A, A): frames with both
    with np.errstate(invalid="ignore", divide="ignore"):
        conditional = joint / present.sum(axis=0, keepdims=True)
    return pd.DataFrame(conditional, index=list(aus), columns=list(aus))


def emotion_counts(table: pd.DataFrame) -> pd.Series:
    """Frames per emotion label, most frequent first."""
    return table["emotion"].fillna("").value_counts()


def nuisance_columns(table: pd.DataFrame) -> list[str]:
    """Metadata columns that are neither core index columns, AU labels nor random seeds."""
    return [
        c
        for c in table.columns
        if c not in CORE_COLUMNS and not c.startswith("AU") and not c.endswith("seed")
    ]


def nuisance_counts(
    table: pd.DataFrame, columns: Sequence[str] | None = None, bins: int = 4
) -> dict[str, pd.Series]:
    """Frames per value of each nuisance column (default: all of them).

    Head-pose angles are binned at +-5 and +-15 degrees; other numbers with many distinct values
    into ``bins`` equal-width bins.
    """
    counts = {}
    for column in nuisance_columns(table) if columns is None else columns:
        values = table[column]
        if column in POSE_COLUMNS:
            values = pd.cut(values, bins=POSE_BINS_DEGREES)
        elif column == "resolution" and values.nunique() > 2 * bins:
            values = pd.cut(values, bins=bins, precision=0)
        elif pd.api.types.is_float_dtype(values) and values.nunique() > 2 * bins:
            values = pd.cut(values, bins=bins, precision=2)
        counts[column] = values.value_counts(sort=False).sort_index()
    return counts


def rate_table(table: pd.DataFrame, aus: Sequence[str], threshold: float = 2) -> pd.DataFrame:
    """Per-AU rate, its target, the allowed deviation and whether the rate is within it."""
    rates = au_rates(table, aus, threshold)
    rows = []
    for au in aus:
        target = TARGET_RATES.get(au, float("nan"))
        tolerance = rate_tolerance(target) if au in TARGET_RATES else float("nan")
        within = bool(abs(rates[au] - target) <= tolerance) if au in TARGET_RATES else None
        source = "approx." if au in APPROXIMATE_TARGETS else "DISFA"
        rows.append((au, 100 * rates[au], 100 * target, 100 * tolerance, within, source))
    columns = ["AU", "rate %", "target %", "+- %", "within", "target from"]
    return pd.DataFrame(rows, columns=columns).set_index("AU")


def format_statistics(
    table: pd.DataFrame, aus: Sequence[str], threshold: float = 2, targets: bool = True
) -> str:
    """Readable tables of rates (vs DISFA's when ``targets``), co-occurrences, emotions, nuisances.

    The still regimes are not shaped like DISFA: they print their rates without targets.
    """
    subjects = table["subject"].nunique()
    lines = [f"{len(table)} frames, {subjects} subjects; positive = intensity >= {threshold}", ""]
    rates = rate_table(table, aus, threshold) if targets else au_rates(table, aus, threshold)
    if not targets:
        rates = (100 * rates).rename("rate %").rename_axis("AU").to_frame()
    lines += ["AU positive rates (per frame):", rates.round(1).to_string()]
    conditional = cooccurrence(table, aus, threshold)
    lines += ["", "Key co-occurrences P(AU | given):"]
    for au, given in KEY_PAIRS:
        if au in conditional.index and given in conditional.columns:
            lines.append(f"  P({au} | {given}) = {conditional.loc[au, given]:.2f}")
    emotions = emotion_counts(table)
    lines += ["", "Emotions (frames): " + ", ".join(f"{k} {v}" for k, v in emotions.items())]
    key_nuisances = [c for c in (*KEY_NUISANCES, *STILL_COLUMNS) if c in table.columns]
    lines += ["", "Nuisances (frames):"]
    for column, counts in nuisance_counts(table, key_nuisances).items():
        lines.append(f"  {column}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)
