"""Collect experiment 011: stage 2 of at least 400 or at least 800 optimizer steps.

Usage (from the repository root, after queue.sh):
    python experiments/011-stage2-steps-800/collect.py [LOGS ...]   (default: logs/fit/multiruns)

The same tables as experiment 010's collect.py (whose code this runs): results.csv, one row per
run (block: posed, wild, videos for AU detection, emotion for the emotion head on the posed
stills, intensity for AU intensity on the videos; setting s400, s800; seed; the kept epoch's
validation score; the test headline: average F1, macro-F1 or ICC; ...), and
comparison_<block>.csv, ``au.compare`` of s800 against s400 on the block's test subjects.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCKS = ("posed", "wild", "emotion", "videos", "intensity")
SPEC = importlib.util.spec_from_file_location(
    "collect_010", HERE.parent / "010-stage2-steps" / "collect.py"
)

if __name__ == "__main__":
    collect_010 = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(collect_010)
    collect_010.collect("011", ("s400", "s800"), BLOCKS, HERE, __doc__)
