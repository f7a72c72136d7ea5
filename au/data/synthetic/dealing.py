"""Which subjects of each fold are dealt a condition, so every fold can be scored by condition.

Left to chance, a fold of 27 subjects at difficulty 2 held 2 subjects with glasses and 4 with an
occluder (the default set's fold 1): per-condition figures then rest on a handful of people. Here
each fold's subjects are dealt the session and segment conditions instead: in every fold at least
:data:`MIN_SUBJECTS_PER_FOLD` subjects (at most :data:`MAX_DEALT_SHARE` of the fold, rounded
down) hold each condition the difficulty level produces at all. Glasses are dealt outright (the
other subjects wear none), keeping the level's share where it gives more; low light and occlusion
force one segment of a dealt subject's video and still arise by chance elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from au.data.synthetic.nuisances import condition_chance

#: The conditions dealt to subjects: glasses for the session, low light and occlusion for one
#: segment of the video (or one still's session in the posed regime: glasses only).
DEALT_CONDITIONS = ("glasses", "low_light", "occlusion")
#: Each fold holds at least this many subjects with each condition (the statistics issue's bar).
MIN_SUBJECTS_PER_FOLD = 8
#: ... but never more than this share of the fold (a 3-subject fold deals one subject each).
MAX_DEALT_SHARE = 0.35


def dealt_count(condition: str, difficulty: int, fold_size: int) -> int:
    """How many of a fold's ``fold_size`` subjects get ``condition`` (0 if the level has none)."""
    chance = condition_chance(difficulty, condition)
    if chance <= 0 or fold_size == 0:
        return 0
    floor = min(MIN_SUBJECTS_PER_FOLD, math.floor(MAX_DEALT_SHARE * fold_size))
    by_share = round(chance * fold_size) if condition == "glasses" else 0
    return min(fold_size, max(floor, by_share))


def deal_conditions(
    seed: int, folds: Sequence[int], difficulty: int, conditions: Sequence[str] = DEALT_CONDITIONS
) -> list[frozenset[str]]:
    """The conditions dealt to each subject, from each subject's fold (``folds[i]``: subject i's).

    A pure function of its arguments: fold ``f``'s holders of condition ``c`` are drawn from the
    fold's subjects by a generator seeded with ``(seed, c, f)``.
    """
    dealt: list[set[str]] = [set() for _ in folds]
    fold_of = np.asarray(folds)
    for number, condition in enumerate(conditions):
        for fold in sorted(set(fold_of.tolist())):
            members = np.flatnonzero(fold_of == fold)
            count = dealt_count(condition, difficulty, len(members))
            rng = np.random.default_rng([seed, 3, number, int(fold)])
            for subject in rng.choice(members, size=count, replace=False):
                dealt[int(subject)].add(condition)
    return [frozenset(d) for d in dealt]
