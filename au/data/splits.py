"""Subject-independent splits: cross-validation folds, validation subjects, never shared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from au.errors import SplitError


def subject_folds(table: pd.DataFrame, num_folds: int) -> dict[str, int]:
    """Fold (1..num_folds) of every subject.

    Uses the index's ``fold`` column when present (every row filled, each subject in one fold);
    otherwise deals the sorted subjects, shuffled with a fixed seed, round-robin into folds so
    the assignment never depends on the training seed.

    Raises:
        SplitError: If the ``fold`` column is filled on some rows only, or puts a subject in
            two folds.
    """
    subjects = sorted(table["subject"].astype(str).unique())
    if "fold" in table.columns and table["fold"].notna().any():
        empty = table.index[table["fold"].isna()]
        if len(empty):
            raise SplitError(
                f"the index's 'fold' column is empty on {len(empty)} of {len(table)} rows "
                f"(first rows {[int(i) for i in empty[:5]]}): fill it on every row, or drop "
                "the column to let au deal subjects into folds"
            )
        per_subject = table.groupby(table["subject"].astype(str))["fold"].unique()
        split = [s for s, folds in per_subject.items() if len(folds) > 1]
        if split:
            raise SplitError(f"subjects {split[:5]} appear in more than one fold of the index")
        return {s: int(folds[0]) for s, folds in per_subject.items()}
    if num_folds < 2 or num_folds > len(subjects):
        raise SplitError(
            f"data.num_folds={num_folds} needs 2..{len(subjects)} (the number of subjects)"
        )
    order = np.random.default_rng(0).permutation(len(subjects))
    return {subjects[i]: rank % num_folds + 1 for rank, i in enumerate(order)}


def split_subjects(
    table: pd.DataFrame,
    fold: int | None,
    num_folds: int = 3,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Train/val/test subject lists; the test set is fold ``fold``, val comes from the rest.

    With ``fold=None`` an index ``split`` column (train/val/test per row) is used instead.

    Raises:
        SplitError: On a fold outside the index's folds, a val fraction outside (0, 1), or a
            split that leaves train, val or test empty.
    """
    if fold is None:
        return _split_from_column(table)
    folds = subject_folds(table, num_folds)
    known = sorted(set(folds.values()))
    if fold not in known:
        raise SplitError(f"data.fold={fold} is not one of the index's folds {known}")
    if not 0 < val_fraction < 1:
        raise SplitError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
    test = sorted(s for s, f in folds.items() if f == fold)
    rest = sorted(s for s, f in folds.items() if f != fold)
    num_val = max(1, round(val_fraction * len(rest)))
    if num_val >= len(rest):
        raise SplitError(f"only {len(rest)} training subjects outside fold {fold}: too few")
    shuffled = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))]
    split = {"train": sorted(shuffled[num_val:]), "val": sorted(shuffled[:num_val]), "test": test}
    check_disjoint(split)
    return split


def check_disjoint(split: dict[str, list[str]]) -> None:
    """Raise unless train, val and test share no subject (pairwise).

    Raises:
        SplitError: Naming every shared subject and the two splits that share it.
    """
    names = list(split)
    problems = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted(set(split[first]) & set(split[second]))
            if shared:
                problems.append(f"{first} and {second} share subjects {shared}")
    if problems:
        raise SplitError("splits are not subject-independent: " + "; ".join(problems))


def _split_from_column(table: pd.DataFrame) -> dict[str, list[str]]:
    if "split" not in table.columns:
        raise SplitError("data.fold is null but the index has no 'split' column; set data.fold")
    out = {}
    for name in ("train", "val", "test"):
        out[name] = sorted(table.loc[table["split"] == name, "subject"].astype(str).unique())
        if not out[name]:
            raise SplitError(f"the index's 'split' column has no {name!r} rows")
    check_disjoint(out)
    return out
