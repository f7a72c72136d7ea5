"""Moved: end-of-run reports are written by :mod:`au.evaluation`.

The task's evaluator (e.g. :mod:`au.evaluation.occurrence`) scores and
:mod:`au.evaluation.run_record` writes. This module only keeps the old import path alive for
processes started before the move; no code of au imports it, and it can be deleted.
"""

from au.evaluation.occurrence_report import SYNTHETIC_CONDITIONS

__all__ = ["SYNTHETIC_CONDITIONS"]
