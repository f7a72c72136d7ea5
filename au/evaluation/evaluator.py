"""The evaluator protocol each task implements, and the result the run record is written from.

The pattern is detectron2's ``DatasetEvaluator``: ``reset()``, then ``process(outputs)`` once per
batch (or once with every prediction of a split, as ``au.fit`` does after Lightning's test
loop gathered them across processes), then ``evaluate()``, which returns an
:class:`EvaluationResult`. :func:`au.evaluation.run_record.write_run_record` writes any result
the same way, so ``au.fit`` and ``au.evaluate`` produce one record layout whatever the task.

A task plugs in by adding one evaluator module beside :mod:`au.evaluation.occurrence` (AU
occurrence): :mod:`au.evaluation.emotion` (accuracy, macro-F1, confusion, beside the majority
class and the AU read-out) and :mod:`au.evaluation.intensity` (ICC, PCC, MAE beside the
training mean) are the others. :class:`CombinedEvaluator` feeds the same predictions to several
evaluators and merges their results (``task=joint``: AU + emotion; ``task=au`` on data with
emotion labels: AU + the read-out's emotion scores).

Commands never format metrics themselves: they pick the task's evaluator, feed it predictions
and hand its result to the run record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import torch


@dataclass
class EvaluationResult:
    """What a task's evaluator found on one split.

    Attributes:
        headline: The ``summary`` key a sweeper optimises and commands print (e.g. ``"f1"``).
        summary: Scalars (and small lists/dicts) for ``summary.json``.
        tables: Name -> table; written as ``<split>_<name>.csv`` (e.g. ``test_metrics.csv``).
        sections: Markdown sections of ``report.md``, in order.
    """

    headline: str
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The headline value."""
        return float(self.summary[self.headline])


@runtime_checkable
class Evaluator(Protocol):
    """Turns a split's predictions into an :class:`EvaluationResult` (detectron2's pattern)."""

    def reset(self) -> None:
        """Forget every prediction processed so far."""

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Take one batch (or all batches at once) of model outputs with their targets."""

    def evaluate(self) -> EvaluationResult:
        """Score everything processed since the last :meth:`reset`."""


def merge_results(results: Sequence[EvaluationResult], headline: str) -> EvaluationResult:
    """One result from several evaluators' results (e.g. AU then emotion), in order.

    Raises:
        ValueError: If two results share a table name, or a summary key with different values.
    """
    summary, tables, sections = {}, {}, []
    for result in results:
        shared = summary.keys() & result.summary.keys()
        clash = {k for k in shared if summary[k] != result.summary[k]}
        clash |= tables.keys() & result.tables.keys()
        if clash:
            raise ValueError(f"merging evaluation results: keys {sorted(clash)} appear twice")
        summary |= result.summary
        tables |= result.tables
        sections += result.sections
    return EvaluationResult(headline, summary, tables, sections)


class CombinedEvaluator:
    """Feeds the same outputs to several evaluators; one merged result with ``headline``.

    Args:
        parts: The evaluators, in report order.
        headline: The merged result's headline (a summary key of one of the parts).
    """

    def __init__(self, parts: Sequence[Evaluator], headline: str):
        self.parts, self.headline = tuple(parts), headline

    def reset(self) -> None:
        """Forget every prediction processed so far."""
        for part in self.parts:
            part.reset()

    def process(self, outputs: Mapping[str, torch.Tensor]) -> None:
        """Hand the outputs to every part."""
        for part in self.parts:
            part.process(outputs)

    def evaluate(self) -> EvaluationResult:
        """The parts' results merged in order (:func:`merge_results`)."""
        return merge_results([part.evaluate() for part in self.parts], self.headline)
