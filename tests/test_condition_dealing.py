"""Dealt conditions: each fold of the default synthetic sets holds each nuisance in 8+ subjects."""

import numpy as np
import pytest

from au.data.synthetic.dealing import deal_conditions, dealt_count
from au.data.synthetic.nuisances import sample_nuisance
from au.data.synthetic.writer import SyntheticConfig, label_table


@pytest.mark.parametrize(
    ("condition", "difficulty", "fold_size", "expected"),
    [
        ("glasses", 2, 27, 8),  # 20% of 27 is 5: raised to the floor of 8
        ("glasses", 3, 27, 9),  # 35% of 27 is 9.45: the level's share is more than 8
        ("low_light", 3, 27, 8),  # segments: only the floor is dealt, the rest is chance
        ("glasses", 2, 3, 1),  # a 3-subject fold: 35% of 3 rounded down
        ("occlusion", 1, 27, 0),  # difficulty 1 has no occluders: none dealt
        ("glasses", 0, 27, 0),  # clean
    ],
)
def test_dealt_counts(condition, difficulty, fold_size, expected):
    assert dealt_count(condition, difficulty, fold_size) == expected


def test_dealing_is_per_fold_and_reproducible():
    folds = [1 + i % 3 for i in range(81)]
    dealt = deal_conditions(0, folds, difficulty=2)
    assert dealt == deal_conditions(0, folds, difficulty=2)
    for fold in (1, 2, 3):
        held = [dealt[i] for i in range(81) if folds[i] == fold]
        assert sum("glasses" in d for d in held) == 8
        assert sum("occlusion" in d for d in held) == 8
    assert dealt != deal_conditions(1, folds, difficulty=2)


def test_forcing_changes_only_the_forced_condition():
    plain = sample_nuisance(np.random.default_rng(4), 2)
    assert plain == sample_nuisance(np.random.default_rng(4), 2, force=frozenset())
    dark = sample_nuisance(np.random.default_rng(4), 2, force=frozenset({"low_light"}))
    assert plain.low_light is False and dark.low_light is True
    assert (dark.yaw, dark.glasses) == (plain.yaw, plain.glasses)


@pytest.mark.parametrize(
    ("config", "conditions"),
    [
        (SyntheticConfig(num_subjects=80, frames_per_subject=60), ("glasses", "occluded", "low")),
        (SyntheticConfig.for_regime("posed"), ("glasses",)),
    ],
)
def test_every_fold_holds_each_condition_in_eight_subjects(config, conditions):
    table = label_table(config)
    masks = {
        "glasses": table["glasses"] != "none",
        "occluded": table["occlusion"] != "none",
        "low": table["low_light"] == 1,
    }
    for condition in conditions:
        per_fold = table[masks[condition]].groupby("fold")["subject"].nunique()
        assert per_fold.reindex([1, 2, 3]).min() >= 8, (condition, per_fold.to_dict())
