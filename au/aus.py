"""The canonical Action Unit vocabulary: FACS numbers, names and the AU sets of each dataset.

Every dataset, model and report in au refers to AUs by their canonical key (``"AU12"``). Use
:func:`parse_au` to turn user input (``12``, ``"au12"``, ``"AU 12"``) into a key; unknown AUs
raise one clear error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from au.errors import UnknownAUError

#: FACS Action Units (Ekman, Friesen & Hager 2002) that au knows, by number.
FACS_NAMES: dict[int, str] = {
    1: "Inner brow raiser",
    2: "Outer brow raiser",
    4: "Brow lowerer",
    5: "Upper lid raiser",
    6: "Cheek raiser",
    7: "Lid tightener",
    9: "Nose wrinkler",
    10: "Upper lip raiser",
    11: "Nasolabial deepener",
    12: "Lip corner puller",
    14: "Dimpler",
    15: "Lip corner depressor",
    16: "Lower lip depressor",
    17: "Chin raiser",
    18: "Lip pucker",
    20: "Lip stretcher",
    22: "Lip funneler",
    23: "Lip tightener",
    24: "Lip pressor",
    25: "Lips part",
    26: "Jaw drop",
    27: "Mouth stretch",
    28: "Lip suck",
    43: "Eyes closed",
    45: "Blink",
}

#: The 12 AUs DISFA codes with intensities 0-5 (and the synthetic set renders).
DISFA_AUS: tuple[str, ...] = tuple(f"AU{n}" for n in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26))

#: The 8 DISFA AUs the detection literature (JAA-Net, ME-GraphAU, the seed paper) reports.
DISFA_DETECTION_AUS: tuple[str, ...] = tuple(f"AU{n}" for n in (1, 2, 4, 6, 9, 12, 25, 26))

#: The 12 AUs BP4D codes for occurrence in the FERA 2015 protocol.
BP4D_AUS: tuple[str, ...] = tuple(f"AU{n}" for n in (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24))


def au_key(number: int) -> str:
    """Return the canonical key of an AU number, e.g. ``12 -> "AU12"``."""
    return f"AU{number}"


def au_number(key: str) -> int:
    """Return the FACS number of a canonical key, e.g. ``"AU12" -> 12``."""
    return int(parse_au(key)[2:])


def parse_au(name: str | int) -> str:
    """Turn ``12``, ``"12"``, ``"au12"`` or ``"AU 12"`` into the canonical key ``"AU12"``.

    Args:
        name: An AU number or name in any of the usual spellings.

    Returns:
        The canonical key.

    Raises:
        UnknownAUError: If ``name`` is not a FACS AU that au knows.
    """
    text = str(name).strip().upper().replace(" ", "").replace("_", "")
    if text.startswith("AU"):
        text = text[2:]
    if text.isdigit() and int(text) in FACS_NAMES:
        return au_key(int(text))
    known = ", ".join(au_key(n) for n in FACS_NAMES)
    raise UnknownAUError(f"unknown Action Unit {name!r}; known AUs are: {known}")


def parse_aus(names: Iterable[str | int]) -> list[str]:
    """Parse a list of AU names, keeping order and rejecting duplicates.

    Raises:
        UnknownAUError: If a name is unknown or appears twice.
    """
    keys = [parse_au(n) for n in names]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise UnknownAUError(f"AUs listed more than once: {', '.join(duplicates)}")
    if not keys:
        raise UnknownAUError("the AU list is empty: name at least one AU, e.g. [AU12]")
    return keys


def au_name(key: str) -> str:
    """Return the FACS name of an AU key, e.g. ``"AU12" -> "Lip corner puller"``."""
    return FACS_NAMES[au_number(key)]
