"""What :mod:`au.compare` refuses to put side by side, each with one line naming the runs.

A difference or a group means something only between runs that answer the same question on
the same data: the same task and targets (AU set, emotion classes), and for a pair the same
data set settings (``data_id``: the index the run read, ``summary.json``'s ``data_read.index``,
which names the synthetic set's size and seed). Two runs of one group on the same data, fold
and seed are the same replicate twice: which one to pair is not for au.compare to guess.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from au.errors import ComparisonError

#: What a run answers: runs that differ in these are never averaged or subtracted.
QUESTION_KEYS = ("task", "targets")
#: What makes a replicate within a group (its test data, fold and seed).
REPLICATE_KEYS = ("data", "data_id", "fold", "seed")


def check_groups(runs: pd.DataFrame) -> None:
    """Refuse a group (``runs["group"]``) whose runs differ in task or targets (where known).

    Raises:
        ComparisonError: Naming the group and one run of each kind.
    """
    for group, members in runs.groupby("group"):
        for key in QUESTION_KEYS:
            if key not in members:
                continue
            kinds = members.dropna(subset=[key]).drop_duplicates(key)
            if len(kinds) > 1:
                named = "; ".join(f"{r['run']} ({key} {r[key]})" for _, r in kinds.iterrows())
                raise ComparisonError(
                    f"group {group!r} holds runs of different {key}: {named}; group by a key "
                    "that separates them or compare them apart"
                )


def check_same_question(runs: pd.DataFrame, group: str, reference: str) -> None:
    """Refuse a difference between groups of different task or targets.

    Raises:
        ComparisonError: Naming a run of each group.
    """
    first = runs[runs["group"] == group].iloc[0]
    other = runs[runs["group"] == reference].iloc[0]
    for key in (k for k in QUESTION_KEYS if k in runs):
        if pd.notna(first[key]) and pd.notna(other[key]) and first[key] != other[key]:
            raise ComparisonError(
                f"cannot subtract {reference!r} from {group!r}: {key} differs ({first['run']}: "
                f"{first[key]}; {other['run']}: {other[key]})"
            )


def check_replicates(runs: pd.DataFrame, pair_keys: Sequence[str]) -> None:
    """Refuse two runs of one group that are the same replicate (same data, fold and seed).

    Raises:
        ComparisonError: Naming both run folders.
    """
    keys = ["group", *(k for k in REPLICATE_KEYS if k in pair_keys or k == "data_id")]
    twice = runs[runs.duplicated(keys, keep=False)]
    if len(twice):
        first = twice.iloc[0]
        same = twice[(twice[keys] == first[keys]).all(axis=1)]["run"].tolist()
        raise ComparisonError(
            f"group {first['group']!r} has the same replicate twice (data "
            f"{first.get('data_id')}, fold {first.get('fold')}, seed {first.get('seed')}): "
            f"{same[0]} and {same[1]}; keep one, or group by what tells them apart"
        )


def check_same_data(pairs: pd.DataFrame) -> None:
    """Refuse pairs whose two runs read different data settings (e.g. synthetic 40x120, 80x60).

    Raises:
        ComparisonError: Naming both runs of the first such pair.
    """
    if "data_id_variant" not in pairs:
        return
    differ = pairs[pairs["data_id_variant"].astype(str) != pairs["data_id_baseline"].astype(str)]
    if len(differ):
        row = differ.iloc[0]
        raise ComparisonError(
            f"runs {row['run_variant']} and {row['run_baseline']} share fold and seed but read "
            f"different data ({row['data_id_variant']} vs {row['data_id_baseline']}); compare "
            "runs of one data setting"
        )


def check_baseline_exists(table: pd.DataFrame, spec: dict[str, str], spec_text: str) -> None:
    """Refuse a ``--baseline`` that matches no group.

    Raises:
        ComparisonError: Listing the groups there are.
    """
    matches = pd.Series(True, index=table.index)
    for key, value in spec.items():
        matches &= table[key].astype(str) == value
    if not matches.any():
        groups = ", ".join(map(repr, table.index))
        raise ComparisonError(f"--baseline {spec_text!r} names no group; the groups: {groups}")
