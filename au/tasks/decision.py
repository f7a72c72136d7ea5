"""Decision steps: turn a frame's AU scores into present/absent decisions.

A ranking loss such as LSEP (Li, Song & Luo, CVPR 2017) only orders the AUs of one frame: adding
a constant to a frame's logits leaves the loss unchanged, so one global threshold per AU is not
a decision rule it supports. au gives it a per-frame threshold instead:

* ``auto`` (default): ``frame_threshold`` for LSEP, ``per_au`` for every other loss.
* ``per_au``: one threshold per AU, tuned on validation frames to maximise F1
  (:func:`au.evaluation.occurrence_metrics.select_thresholds`).
* ``frame_threshold``: the threshold function of Elisseeff & Weston (NIPS 2001), as BP-MLL
  (Zhang & Zhou, IEEE TKDE 2006) uses it: a threshold per frame, ``t(x) = w·f(x) + b``,
  regressed by least squares from the frame's scores ``f(x)`` (here logits) to a target
  threshold that separates that frame's present from its absent AUs
  (:class:`FrameThresholdEstimator`). au differs in two details: the target maximises the
  frame's F1 (Elisseeff & Weston minimise the number of misplaced labels) and the fit is
  ridge-regularised.

Li, Song & Luo pair LSEP with a different decision step, their label-decision module: a small
network trained on the CNN's image features, with one branch that estimates the number of
labels (label count) and one that estimates a threshold per label. au does not implement it.

The AU task owns the step's state (:class:`AUDecision`: the thresholds, which AUs were tuned,
the frame-threshold weights); the Lightning module only holds it as ``module.task_state``.
"""

from __future__ import annotations

import torch
from torch import nn

from au.evaluation.occurrence_metrics import (
    bagged_thresholds,
    select_thresholds,
    shrink_thresholds,
)
from au.losses.registry import loss_class

#: The decision steps ``model.decision.name`` chooses from.
DECISION_STEPS = ("auto", "per_au", "frame_threshold")


def resolve_decision(name: str, loss_name: str) -> str:
    """``auto`` becomes ``frame_threshold`` for a ranking loss and ``per_au`` otherwise.

    Whether a loss only ranks is what it declares when registered (``ranking=True``: LSEP).
    """
    if name != "auto":
        return name
    return "frame_threshold" if loss_class(loss_name).ranking else "per_au"


def frame_targets(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The best threshold of every frame, in logit units (N,).

    For each frame, the coded AUs sorted by logit are cut after the top ``k`` (``k = 0..A``)
    at the ``k`` that maximises the frame's F1 (a frame with no present AU scores 1 at
    ``k = 0``); the target lies halfway between the last AU kept and the first AU dropped.
    Beyond the ends (all AUs absent, or all present) it lies one ``margin`` past the extreme
    logit, the margin being the median gap between consecutive sorted logits.
    """
    coded = mask > 0
    low = torch.finfo(logits.dtype).min
    order = logits.masked_fill(~coded, low).argsort(dim=1, descending=True)  # (N, A)
    scores = logits.gather(1, order)
    positives = (labels * coded).gather(1, order)  # (N, A)
    kept = coded.gather(1, order)
    n_coded = kept.sum(1)  # (N,)
    true_total = positives.sum(1, keepdim=True)  # (N, 1)
    tp = torch.cat([torch.zeros_like(true_total), positives.cumsum(1)], dim=1)  # (N, A+1)
    k = torch.arange(logits.shape[1] + 1, device=logits.device).expand_as(tp)
    f1 = 2 * tp / (k + true_total).clamp(min=1)
    f1 = torch.where((k == 0) & (true_total == 0), torch.ones_like(f1), f1)
    f1 = f1.masked_fill(k > n_coded[:, None], -1.0)
    best = f1.argmax(1)  # (N,)
    gaps = (scores[:, :-1] - scores[:, 1:])[kept[:, 1:]]
    margin = gaps.median() if gaps.numel() else torch.tensor(1.0, dtype=logits.dtype)
    rows = torch.arange(len(logits), device=logits.device)
    last_index = (n_coded - 1).clamp(min=0)
    above = scores[rows, (best - 1).clamp(min=0)]
    below = scores[rows, torch.minimum(best, last_index)]
    target = (above + below) / 2
    target = torch.where(best == 0, scores[:, 0] + margin, target)
    return torch.where(best >= n_coded, scores[rows, last_index] - margin, target)


class FrameThresholdEstimator(nn.Module):
    """Elisseeff & Weston's (2001) threshold function: a frame's threshold, linear in its logits.

    The per-instance threshold of BP-MLL (Zhang & Zhou, 2006), not Li, Song & Luo's (2017)
    label-decision network. Fitted by ridge least squares on validation frames to
    :func:`frame_targets`; an AU of a frame is present when its logit exceeds the frame's
    threshold. Weights are buffers, so a checkpoint carries them as plain tensors.

    Args:
        num_aus: Number of AU outputs.
        ridge: L2 penalty of the least-squares fit (relative to the features' scale).
    """

    def __init__(self, num_aus: int, ridge: float = 1e-3):
        super().__init__()
        self.ridge = ridge
        self.register_buffer("weight", torch.zeros(num_aus))
        self.register_buffer("bias", torch.zeros(()))

    def fit(self, logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
        """Fit ``weight`` and ``bias`` on (N, A) logits, labels and masks."""
        coded = mask.sum(1) > 0  # frames with no coded AU say nothing about a threshold
        logits, labels, mask = logits[coded].double(), labels[coded], mask[coded]
        target = frame_targets(logits, labels.double(), mask.double())  # (N,)
        design = torch.cat([logits, torch.ones_like(logits[:, :1])], dim=1)  # (N, A+1)
        gram = design.T @ design
        penalty = self.ridge * gram.diagonal().mean() * torch.eye(len(gram), dtype=gram.dtype)
        penalty[-1, -1] = 0  # the bias is not shrunk
        solution = torch.linalg.solve(gram + penalty, design.T @ target)
        self.weight.copy_(solution[:-1].to(self.weight))
        self.bias.copy_(solution[-1].to(self.bias))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """The threshold of each frame (N,), in logit units."""
        return logits @ self.weight.to(logits) + self.bias.to(logits)

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        """Present/absent decisions (N, A): a logit above its frame's threshold."""
        return logits > self(logits)[:, None]


class AUDecision(nn.Module):
    """The AU task's decision state: per-AU thresholds or the frame-threshold function.

    Everything is a buffer, so a checkpoint carries it. ``config`` keeps the settings.

    Args:
        num_aus: Number of AU outputs.
        loss: The AU loss's name (``auto`` resolves by whether it only ranks).
        name: ``auto``, ``per_au`` or ``frame_threshold`` (see the module docstring).
        min_positives: An AU with fewer validation positives keeps 0.5 and is reported as
            untuned (``per_au``).
        bootstrap: Bag the per-AU thresholds over this many bootstrap samples (0: no bagging).
        shrink_positives: Pull each tuned threshold toward 0.5 by ``k / (n + k)`` of the way in
            logit units, n its validation positives
            (:func:`~au.evaluation.occurrence_metrics.shrink_thresholds`).

    Raises:
        ValueError: If ``name`` is not a decision step.
    """

    def __init__(
        self,
        num_aus: int,
        loss: str = "bce",
        name: str = "auto",
        min_positives: int = 5,
        bootstrap: int = 0,
        shrink_positives: float = 0.0,
    ):
        super().__init__()
        if name not in DECISION_STEPS:
            raise ValueError(f"model.decision.name={name!r}: choose one of {DECISION_STEPS}")
        self.name = resolve_decision(name, loss)
        self.min_positives, self.bootstrap = int(min_positives), int(bootstrap)
        self.shrink_positives = float(shrink_positives)
        self.register_buffer("thresholds", torch.full((num_aus,), 0.5))
        #: 1 where the threshold was tuned on validation, 0 where it kept 0.5.
        self.register_buffer("tuned", torch.zeros(num_aus))
        self.frame_threshold = FrameThresholdEstimator(num_aus)

    def fit(self, logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
        """Fit the thresholds (and the frame-threshold function) on validation (N, A)."""
        probs = torch.sigmoid(logits.double())
        if self.bootstrap > 0:
            thresholds, val_f1 = bagged_thresholds(
                probs, labels, mask, self.bootstrap, 0, self.min_positives
            )
        else:
            thresholds, val_f1 = select_thresholds(
                probs, labels, mask, min_positives=self.min_positives
            )
        thresholds = shrink_thresholds(thresholds.double(), labels, mask, self.shrink_positives)
        self.thresholds.copy_(thresholds.to(self.thresholds))
        self.tuned.copy_((~val_f1.isnan()).to(self.tuned))
        if self.name == "frame_threshold":
            self.frame_threshold.fit(logits, labels, mask)

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        """Present/absent decisions (N, A) of logits (N, A)."""
        if self.name == "frame_threshold":
            return self.frame_threshold.decide(logits)
        return torch.sigmoid(logits.double()) >= self.thresholds.to(logits.device).double()

    def untuned(self, aus: list[str]) -> list[str]:
        """AUs whose per-AU threshold kept 0.5 (too few validation positives).

        None for the frame-threshold step, which tunes no per-AU threshold.
        """
        if self.name != "per_au":
            return []
        return [au for au, tuned in zip(aus, self.tuned.tolist(), strict=True) if not tuned]


def au_thresholds(module) -> torch.Tensor:
    """The per-AU thresholds ``module`` decides by (A,), detached on the CPU.

    A model whose task keeps no AU decision step (intensity, emotion) gets 0.5 each; nothing
    decides by them there.
    """
    thresholds = getattr(module.task_state, "thresholds", None)
    if thresholds is None:
        return torch.full((len(module.aus),), 0.5)
    return thresholds.detach().cpu()
