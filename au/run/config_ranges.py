"""The ranges numeric config values must lie in (``model.optimizer.lr=-0.1`` stops the run).

Ranges are keyed by glob patterns over the full dotted key (:func:`fnmatch.fnmatchcase`, ``*``
spans dots): the first pattern that matches a key gives its range, so exact keys come first,
then names (``*.patience``), then name patterns (``*_epochs``, ``*_lr``, ``*_fraction``). A new
constructor argument named like its kind (``ema_warmup_epochs``, ``head_lr``,
``holdout_fraction``) is range-checked with no edit here; a key no pattern names is only
type-checked. A key whose receiving code gives no type (a ``**kwargs`` argument, a parameter
without annotation or default) takes the type its range implies: an integer or a number.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """An interval of numbers; ``integer`` says the key counts something (a whole number)."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """``"> 0"``, ``">= 1"``, ``"in (0, 1)"``, ``"in [0, 1)"``."""
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low == -math.inf:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
UNIT = Range(0, 1)  # a share or a probability
OPEN_UNIT = Range(0, 1, low_open=True, high_open=True)
BELOW_ONE = Range(0, 1, high_open=True)  # dropout: 1 would drop everything
COUNT = Range(0, integer=True)
AT_LEAST_ONE = Range(1, integer=True)

#: Pattern over the dotted key -> its range; the first match wins (exact keys first).
RANGES: dict[str, Range] = {
    # exact keys whose meaning differs from their name's pattern
    "data.positive_threshold": POSITIVE,  # a label value (2 for intensities), not a probability
    "data.num_folds": Range(2, integer=True),
    "data.channels": Range(1, 3, integer=True),
    "data.augment.style": UNIT,  # the probability of each style-randomization step
    "data.synthetic.difficulty": Range(0, integer=True),
    "data.synthetic.jpeg_quality": Range(1, 100, integer=True),
    "model.backbone.in_chans": AT_LEAST_ONE,
    "trainer.devices": Range(-1, integer=True),  # -1: every device
    "trainer.num_sanity_val_steps": Range(-1, integer=True),  # -1: the whole validation set
    "trainer.max_steps": Range(-1, integer=True),  # -1: no limit
    "trainer.reload_dataloaders_every_n_epochs": COUNT,
    "haar.scale_factor": Range(1, low_open=True),
    "haar.min_neighbors": COUNT,
    "smoothing": Range(0, 1, low_open=True),  # 1: no smoothing, 0 would never follow a face
    "opset": Range(7, integer=True),
    "tolerance": POSITIVE,
    # names
    "*image_size": Range(16, integer=True),
    "*batch_size": AT_LEAST_ONE,
    "*frames_per_subject": AT_LEAST_ONE,
    "*log_every_n_steps": AT_LEAST_ONE,
    "*max_weight": POSITIVE,  # the largest positive weight: 0 would ignore every positive
    "*num_workers": COUNT,
    "*patience": AT_LEAST_ONE,
    "*unfreeze_last_blocks": AT_LEAST_ONE,
    "*min_steps": AT_LEAST_ONE,
    "*min_positives": COUNT,
    "*bootstrap": COUNT,
    "*betas": BELOW_ONE,
    "*.beta": POSITIVE,
    "*.eps": POSITIVE,
    "*temperature": POSITIVE,
    "*clip": BELOW_ONE,
    "*alpha": UNIT,
    "*.fold": AT_LEAST_ONE,
    "folds": AT_LEAST_ONE,
    "*max_frames": AT_LEAST_ONE,
    "*threads": AT_LEAST_ONE,
    "*accumulate_grad_batches": AT_LEAST_ONE,
    "*val_check_interval": POSITIVE,
    "*limit_*_batches": NON_NEGATIVE,
    "*overfit_batches": NON_NEGATIVE,
    "*gradient_clip_val": NON_NEGATIVE,
    # name patterns
    "*seed": COUNT,
    "*_epochs": COUNT,
    "*_epoch": AT_LEAST_ONE,  # check_val_every_n_epoch
    "*_steps": COUNT,
    "*every*": AT_LEAST_ONE,
    "*.lr": POSITIVE,
    "*_lr": POSITIVE,
    "*_fraction": UNIT,
    "*ema_decay": OPEN_UNIT,
    "*weight_decay": NON_NEGATIVE,
    "*decay": UNIT,
    "*dropout*": BELOW_ONE,
    "*label_smoothing": BELOW_ONE,
    "*drop_rate": BELOW_ONE,
    "*momentum": BELOW_ONE,
    "*dampening": UNIT,
    "*shrink*": NON_NEGATIVE,  # shrink_positives: a pseudo-count of positives
    "*threshold": UNIT,
    "*gamma*": NON_NEGATIVE,
    "*weight": NON_NEGATIVE,
    "*scale": POSITIVE,
    "*margin": NON_NEGATIVE,
    "*num_*": AT_LEAST_ONE,
    "*min_size": AT_LEAST_ONE,
    "*max_side": AT_LEAST_ONE,
}


def range_of(key: str) -> Range | None:
    """The range of the dotted ``key`` (the first pattern of :data:`RANGES` it matches)."""
    return next((r for pattern, r in RANGES.items() if fnmatch.fnmatchcase(key, pattern)), None)
