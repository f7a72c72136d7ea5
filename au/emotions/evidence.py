"""The calibrated AU -> emotion read-out (``rule="calibrated"`` of :mod:`au.emotions.readout`).

A detector's sigmoid outputs are not calibrated against each other: a rare AU's validation-tuned
threshold may be 0.2 and a frequent one's 0.7, so "p = 0.4" means "on" for the first and "off"
for the second. This rule therefore scores emotions from each AU's *evidence* relative to its own
threshold ``t_a`` (the one saved with the checkpoint, see ``au.inference.detector``):

    e_a = clip(logit(p_a) - logit(t_a), -4, 4)      > 0: on, < 0: off, 0: at the threshold

(the clip keeps one saturated AU from drowning the others). For a prototype ``P`` (FACS / EMFACS
configurations of :data:`au.emotions.readout.PROTOTYPES`, weights ``w``) and the model's
AUs ``M``:

    S_P = (sum_{a in P&M} w_a e_a - sum_{a in M-P-optional(P)} max(e_a, 0)) / sum_{a in P} w_a

- prototype AUs the model has add their evidence, for or against;
- prototype AUs the model lacks count as "no evidence" (0), so an emotion the model sees only
  in part needs stronger evidence to win (the denominator runs over the whole prototype);
- an AU that is on but belongs to neither the prototype nor its optional AUs counts against it
  (fear 1+2+4+5+20+26 beats surprise 1+2+5+26 when AU4 is on); an AU that is off does not;
- an emotion scores its best prototype among those with at least one *full-weight* AU in
  ``M`` (:func:`carrying_prototypes`): a part-weight AU only supports an emotion. Contempt
  (R12A+R14A, AU12 at weight 0.5) therefore needs AU14; with a bilateral AU12 alone it would
  read every half-smile as contempt, and a bilateral AU12 is the happiness cue;
- neutral is a real competitor: ``S_neutral = -max_{a in C} e_a`` over the AUs ``C`` that are
  core to some prototype, i.e. high when none of them is on, low as soon as one is clearly on.
  Lips part (AU25) is optional in every prototype and does not count against neutral.

The scores are log-odds-like evidence; :func:`calibrated_scores` returns their softmax over the
emotions the model can express (NaN for the others), so they read as a distribution and the
argmax is the read-out's answer. Which AUs carry each emotion with a given model:
:func:`au.emotions.readout.emotion_coverage` (column ``carried_by``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

#: Evidence saturates at this many logits from the threshold.
EVIDENCE_LIMIT = 4.0
_EPS = 1e-4


def au_evidence(
    probs: torch.Tensor, thresholds: np.ndarray | torch.Tensor | float | None = None
) -> torch.Tensor:
    """Evidence ``logit(p) - logit(t)`` per AU, clipped to +-:data:`EVIDENCE_LIMIT`.

    Args:
        probs: AU probabilities ``(..., A)``.
        thresholds: Each AU's decision threshold ``(A,)`` (or one for all); 0.5 when ``None``.
    """
    cut = torch.as_tensor(0.5 if thresholds is None else thresholds, dtype=probs.dtype)
    cut = cut.to(probs.device).expand(probs.shape[-1:])  # (A,)
    if ((cut <= 0) | (cut >= 1)).any():
        raise ValueError(f"thresholds must lie strictly between 0 and 1, got {cut.tolist()}")
    logits = torch.logit(probs.clamp(_EPS, 1 - _EPS))
    return (logits - torch.logit(cut.clamp(_EPS, 1 - _EPS))).clamp(-EVIDENCE_LIMIT, EVIDENCE_LIMIT)


def prototype_evidence(evidence: torch.Tensor, keys: Sequence[str], proto) -> torch.Tensor:
    """``S_P`` of the module docstring, ``(...,)``, for one prototype.

    ``proto`` is an :class:`au.emotions.readout.Prototype`.
    """
    inside = [i for i, k in enumerate(keys) if k in proto.weights]
    outside = [i for i, k in enumerate(keys) if k not in proto.weights and k not in proto.optional]
    weights = evidence.new_tensor([proto.weights[keys[i]] for i in inside])  # (P,)
    support = (evidence[..., inside] * weights).sum(-1)  # (...,)
    against = evidence[..., outside].clamp(min=0).sum(-1)  # (...,)
    return (support - against) / sum(proto.weights.values())


def carrying_prototypes(protos: Sequence, keys: Sequence[str]) -> list:
    """The prototypes with at least one full-weight AU (weight >= 1) among ``keys``."""
    return [p for p in protos if any(w >= 1 and k in keys for k, w in p.weights.items())]


def carrying_aus(protos: Sequence, keys: Sequence[str]) -> list[str]:
    """The AUs of ``keys`` that carry an emotion with these prototypes, in ``keys`` order."""
    used = {k for p in carrying_prototypes(protos, keys) for k in p.weights}
    return [k for k in keys if k in used]


def neutral_evidence(
    evidence: torch.Tensor, keys: Sequence[str], prototypes: Mapping[str, Sequence]
) -> torch.Tensor:
    """``S_neutral = -max`` evidence over the AUs core to some prototype, ``(...,)``."""
    core = {k for protos in prototypes.values() for p in protos for k in p.weights}
    columns = [i for i, k in enumerate(keys) if k in core]
    if not columns:
        return evidence.new_zeros(evidence.shape[:-1])
    return -evidence[..., columns].amax(-1)


def calibrated_scores(
    probs: torch.Tensor,
    keys: Sequence[str],
    names: Sequence[str],
    usable: Mapping[str, Sequence],
    prototypes: Mapping[str, Sequence],
    thresholds: np.ndarray | torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Softmax of the calibrated evidence over the expressible emotions, ``(..., E)``.

    Args:
        probs: AU probabilities ``(..., A)`` over ``keys``.
        keys: Canonical AU keys of the model, in column order.
        names: Canonical emotion names, in output order (``neutral`` may be one).
        usable: Emotion -> its prototypes with the required coverage of ``keys`` (filtered
            here by :func:`carrying_prototypes`).
        prototypes: All prototypes (their core AUs define what neutral looks at).
        thresholds: Each AU's tuned threshold ``(A,)``; 0.5 when ``None``.
    """
    evidence = au_evidence(probs, thresholds)  # (..., A)
    minus_inf = torch.full(probs.shape[:-1], -torch.inf, dtype=probs.dtype, device=probs.device)
    usable = {n: carrying_prototypes(protos, keys) for n, protos in usable.items()}
    columns = []
    for name in names:
        if name == "neutral":
            columns.append(neutral_evidence(evidence, keys, prototypes))
        elif usable.get(name):
            scores = [prototype_evidence(evidence, keys, p) for p in usable[name]]
            columns.append(torch.stack(scores, -1).amax(-1))
        else:
            columns.append(minus_inf)
    expressible = torch.tensor([n == "neutral" or bool(usable.get(n)) for n in names])  # (E,)
    result = torch.softmax(torch.stack(columns, -1), -1)  # (..., E)
    return result.masked_fill(~expressible.to(result.device), float("nan"))
