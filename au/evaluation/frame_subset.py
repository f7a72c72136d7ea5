"""Score a finished run on the test frames that match a condition (``au.compare --frames``).

A run's ``test_predictions.csv`` names the index row of every test frame; the index (recorded
in ``summary.json`` as ``data_read.index``) holds the frame's conditions, e.g. the synthetic
set's ``low_light``, ``roll``, ``yaw``, ``glasses`` and ``occlusion``. :func:`subset_counts`
keeps the frames a filter selects and recounts TP/FP/FN per test subject, so the paired
interval of :mod:`au.evaluation.paired_bootstrap` compares two runs on exactly those frames.

A filter is data, not code: :func:`parse_frame_filter` reads it into comparisons of an index
column (or ``abs(column)``) with a number or a quoted string (``== != < <= > >=``, ``in [..]``,
``not in [..]``), joined by ``and`` / ``or`` / ``&`` / ``|``, negated by ``not`` / ``~``, with
parentheses, and :func:`select_frames` evaluates them with pandas' element-wise operators.
Anything else (``@`` names, attributes, other calls, arithmetic, unknown columns) is refused
with a :class:`FrameQueryError`; nothing in the filter is ever executed.
"""

from __future__ import annotations

import ast
import functools
import io
import operator
import tokenize
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from au.data.index import read_index
from au.errors import FrameQueryError
from au.evaluation.paired_bootstrap import SubjectCounts, average_f1, f1_per_au

#: The comparisons a filter may use, as element-wise operators on a column.
COMPARISONS: dict[type, Callable] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
#: The one function a filter may apply to a column (e.g. ``abs(roll) >= 5``).
FUNCTIONS: dict[str, Callable] = {"abs": abs}


#: A parsed filter: called with the index table, it returns one bool per row.
FrameFilter = Callable[[pd.DataFrame], pd.Series]


def parse_frame_filter(text: str) -> FrameFilter:
    """Read a ``--frames`` filter into a function of the index table (nothing is executed).

    ``&`` and ``|`` bind like ``and`` and ``or`` (as in pandas' query).

    Raises:
        FrameQueryError: If ``text`` is not such a condition.
    """
    if "@" in text:
        raise FrameQueryError(f"--frames {text!r}: '@' names are not allowed; {_GRAMMAR}")
    try:
        tree = ast.parse(_words_for_bitwise(text), mode="eval").body
    except (SyntaxError, tokenize.TokenError, ValueError, RecursionError) as err:
        raise FrameQueryError(f"--frames {text!r} does not parse ({err}); {_GRAMMAR}") from None
    return _condition(tree, text)


_GRAMMAR = (
    "expected comparisons of an index column with a number or quoted string "
    "(== != < <= > >=, in [..]), joined by and/or/&/|"
)


def _words_for_bitwise(text: str) -> str:
    """``text`` with the operator tokens ``&`` / ``|`` read as ``and`` / ``or``."""
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        word = {"&": "and", "|": "or"}.get(token.string) if token.type == tokenize.OP else None
        tokens.append((tokenize.NAME, word) if word else (token.type, token.string))
    return tokenize.untokenize(tokens)


def _condition(node: ast.expr, text: str) -> FrameFilter:
    if isinstance(node, ast.BoolOp):
        parts = [_condition(value, text) for value in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        return lambda table: functools.reduce(combine, (part(table) for part in parts))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
        inner = _condition(node.operand, text)
        return lambda table: ~inner(table)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return _comparison(node.left, node.ops[0], node.comparators[0], text)
    raise FrameQueryError(
        f"--frames {text!r}: {ast.unparse(node)!r} is not a condition; {_GRAMMAR}"
    )


def _comparison(left: ast.expr, op: ast.cmpop, right: ast.expr, text: str) -> FrameFilter:
    if isinstance(op, ast.In | ast.NotIn):
        column, values = _column(left, text), _values(right, text)
        if isinstance(op, ast.NotIn):
            return lambda table: ~column(table).isin(values)
        return lambda table: column(table).isin(values)
    if type(op) not in COMPARISONS:
        raise FrameQueryError(f"--frames {text!r}: {type(op).__name__} is not allowed; {_GRAMMAR}")
    compare = COMPARISONS[type(op)]
    if isinstance(left, ast.Constant | ast.UnaryOp):  # 5 <= roll: the column on the right
        column, value = _column(right, text), _value(left, text)
        return lambda table: compare(value, column(table))
    column, value = _column(left, text), _value(right, text)
    return lambda table: compare(column(table), value)


def _column(node: ast.expr, text: str) -> Callable[[pd.DataFrame], pd.Series]:
    if isinstance(node, ast.Name):
        return lambda table: _column_of(table, node.id, text)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Name)
    ):
        function, name = FUNCTIONS[node.func.id], node.args[0].id
        return lambda table: function(_column_of(table, name, text))
    raise FrameQueryError(
        f"--frames {text!r}: {ast.unparse(node)!r} is not an index column; {_GRAMMAR}"
    )


def _column_of(table: pd.DataFrame, name: str, text: str) -> pd.Series:
    if name not in table.columns:
        columns = ", ".join(map(str, table.columns))
        raise FrameQueryError(f"--frames {text!r}: no column {name!r} (index columns: {columns})")
    return table[name]


def _value(node: ast.expr, text: str) -> float | str:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _value(node.operand, text)
        if isinstance(value, int | float):
            return -value if isinstance(node.op, ast.USub) else value
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float, str):
        return node.value
    raise FrameQueryError(
        f"--frames {text!r}: {ast.unparse(node)!r} is not a number or quoted string; {_GRAMMAR}"
    )


def _values(node: ast.expr, text: str) -> list:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [_value(item, text) for item in node.elts]
    raise FrameQueryError(f"--frames {text!r}: `in` needs a list [..] of values; {_GRAMMAR}")


def select_frames(table: pd.DataFrame, text: str) -> np.ndarray:
    """One bool per row of ``table``: whether it matches the filter ``text``.

    Raises:
        FrameQueryError: If ``text`` is not a condition on ``table``'s columns.
    """
    try:
        selected = parse_frame_filter(text)(table)
    except FrameQueryError:
        raise
    except (TypeError, ValueError) as err:
        message = f"--frames {text!r} does not evaluate on the index: {err}"
        raise FrameQueryError(message) from None
    return np.asarray(selected, dtype=bool)


@functools.lru_cache(maxsize=8)
def _index_table(path: str) -> pd.DataFrame:
    return read_index(path).table


def matching_frames(predictions: pd.DataFrame, index_path: str | Path, query: str) -> pd.Series:
    """Which rows of a run's test predictions match the filter ``query`` on the run's index.

    Raises:
        FrameQueryError: If the predictions name no index rows, or ``query`` is not a
            condition on the index's columns (:func:`select_frames`).
    """
    if "row" not in predictions:
        raise FrameQueryError("the run's test_predictions.csv has no `row` column")
    frames = _index_table(str(index_path)).iloc[predictions["row"].to_numpy()]
    return pd.Series(select_frames(frames, query), index=predictions.index)


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
