"""Score a finished run on the test frames that match a condition (``au.compare --frames``).

A run's ``test_predictions.csv`` names the index row of every test frame; the index (recorded
in ``summary.json`` as ``data_read.index``) holds the frame's conditions, e.g. the synthetic
set's ``low_light``, ``roll``, ``yaw``, ``glasses`` and ``occlusion``. :func:`subset_counts`
keeps the frames a pandas query selects and recounts TP/FP/FN per test subject, so the paired
bootstrap of :mod:`au.evaluation.paired_bootstrap` compares two runs on exactly those frames.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from au.data.index import read_index
from au.evaluation.paired_bootstrap import SubjectCounts, average_f1, f1_per_au


class FrameQueryError(ValueError):
    """A ``--frames`` query that does not select frames of a run's index."""


@functools.lru_cache(maxsize=8)
def _index_table(path: str) -> pd.DataFrame:
    return read_index(path).table


def matching_frames(predictions: pd.DataFrame, index_path: str | Path, query: str) -> pd.Series:
    """Which rows of a run's test predictions match ``query`` on the run's index (bool).

    Raises:
        FrameQueryError: If the predictions name no index rows, or the query does not
            evaluate on the index (an unknown column is named).
    """
    if "row" not in predictions:
        raise FrameQueryError("the run's test_predictions.csv has no `row` column")
    frames = _index_table(str(index_path)).iloc[predictions["row"].to_numpy()]
    try:
        selected = frames.eval(query)
    except pd.errors.UndefinedVariableError as err:
        columns = ", ".join(map(str, frames.columns))
        raise FrameQueryError(f"--frames {query!r}: {err} (index columns: {columns})") from err
    except (SyntaxError, TypeError, ValueError, KeyError) as err:
        message = f"--frames {query!r} does not evaluate on the index: {err}"
        raise FrameQueryError(message) from err
    if not pd.api.types.is_bool_dtype(selected):
        raise FrameQueryError(f"--frames {query!r} is not a condition (true or false per frame)")
    return pd.Series(selected.to_numpy(), index=predictions.index)


def subset_counts(
    predictions: pd.DataFrame, index_path: str | Path, query: str
) -> tuple[SubjectCounts, dict[str, float], int]:
    """Per-subject counts, F1 (average and per AU) and frame count on the matching frames.

    Returns:
        ``(counts, f1, frames)``: the :class:`SubjectCounts` of the matching frames, ``{"f1":
        average F1, "f1/<AU>": F1, ...}`` (NaN for an AU without a positive there) and the
        number of matching frames.
    """
    kept = predictions[matching_frames(predictions, index_path, query)]
    counts = SubjectCounts.from_predictions(kept)
    total = counts.counts.sum(axis=0)  # (A, 3)
    f1 = {"f1": float(average_f1(total))} if len(kept) else {"f1": np.nan}
    f1 |= {f"f1/{au}": float(v) for au, v in zip(counts.aus, f1_per_au(total), strict=True)}
    return counts, f1, len(kept)
