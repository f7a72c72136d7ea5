"""Map detected Action Units to emotions with FACS/EMFACS prototypes.

Prototypes (AU configurations typical of each emotion) follow:

- Ekman & Friesen (1978), *Facial Action Coding System*, Consulting Psychologists Press.
- Friesen & Ekman (1983), *EMFACS-7: Emotional Facial Action Coding System*, UCSF (unpublished).
- Ekman, Friesen & Hager (2002), *FACS Investigator's Guide*, Table 10-1 ("prototypes and major
  variants"), cited below as *IG 2002*.

The first prototype of each emotion is the canonical one that the AU-detection literature quotes
(happiness 6+12, sadness 1+4+15, surprise 1+2+5B+26, fear 1+2+4+5+7+20+26, anger 4+5+7+23, disgust
9+15+16, contempt R12A+R14A); the others are IG 2002 variants. IG 2002 also lists single-AU
entries (disgust 9 or 10*, happiness 12C/D) and variants such as disgust 9+17 / 10+17; they are
left out so that every emotion needs a configuration of AUs: with a detector that lacks AU9, a
9+17 variant would reduce to "AU17 alone means disgust". Add them to :data:`PROTOTYPES` (or pass
your own table) to study that choice.

FACS letters are kept in each prototype's ``code`` but do not enter the score: au's detectors
are bilateral occurrence detectors, so intensity (A-E) and side (L/R) cannot be seen. Contempt is
unilateral (R12A+R14A); its AU12 gets weight 0.5 because a bilateral AU12 is the happiness cue.

Two scoring rules are kept by name (``rule=`` of :func:`emotion_scores` and
:func:`predict_emotion`) so that a record can compare them:

- ``"calibrated"`` (:mod:`au.emotions.evidence`): each AU's evidence relative to its own tuned
  threshold, ``logit(p) - logit(t)``, so "on" means on; neutral scores high when no prototype AU
  is on. Pass the detector's ``thresholds``.
- ``"prototype_v1"`` (the first rule, the default until callers pass thresholds), below.

Rule ``"prototype_v1"``, for AU probabilities ``p`` over the model's AUs ``M``:

- a prototype ``P`` with weights ``w`` scores the soft Jaccard (Tanimoto) similarity between
  ``p`` and ``P`` restricted to ``M``:
  ``S = sum_{a in P&M} w_a p_a / (sum_{a in P&M} w_a + sum_{a in M-P-optional} p_a)``.
  Prototype AUs the model lacks are ignored; active AUs outside the prototype lower the score
  (so fear, a superset of surprise, beats surprise when AU4 and AU20 are on); a prototype's
  ``optional`` AUs (e.g. AU25 lips part with a jaw drop) neither help nor hurt;
- an emotion scores the best of its prototypes whose coverage (covered weight / total weight) is
  at least ``min_coverage``; an emotion with none gets NaN and is never predicted;
- neutral scores ``1 - max(other scores)``: it wins when no prototype is matched above 0.5.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from au.aus import parse_au, parse_aus
from au.emotions import EMOTIONS, parse_emotion
from au.emotions.evidence import calibrated_scores, carrying_aus

_FACS_TOKEN = re.compile(r"^([LRTU]?)(\d+)([A-E*]?)$")
#: Scoring rules by name; the first is the default.
RULES: tuple[str, ...] = ("prototype_v1", "calibrated")
#: Least covered fraction of a prototype's weight for it to be scored, per rule. The calibrated
#: rule counts AUs the model lacks as "no evidence", so any covered AU may carry an emotion.
DEFAULT_MIN_COVERAGE = {"prototype_v1": 0.5, "calibrated": 0.0}


@dataclass(frozen=True, eq=False)
class Prototype:
    """One FACS configuration of an emotion.

    Attributes:
        code: The FACS notation, e.g. ``"1+2+5B+26"`` or ``"R12A+R14A"``.
        weights: Weight of each prototype AU by canonical key (1.0 unless stated).
        optional: AUs that may accompany the prototype without lowering its score.
        source: Where the configuration comes from.
    """

    code: str
    weights: Mapping[str, float]
    optional: frozenset[str]
    source: str

    @classmethod
    def parse(
        cls,
        code: str,
        optional: str = "",
        weights: Mapping[int, float] | None = None,
        source: str = "",
    ) -> Prototype:
        """Build a prototype from FACS notation, e.g. ``Prototype.parse("R12A+R14A")``."""
        numbers = [_facs_number(token) for token in code.split("+")]
        keys = parse_aus(numbers)
        extra = {parse_au(n): w for n, w in (weights or {}).items()}
        table = {k: float(extra.get(k, 1.0)) for k in keys}
        optional_keys = frozenset(parse_au(_facs_number(t)) for t in optional.split("+") if t)
        return cls(code, table, optional_keys, source)

    def coverage(self, aus: Sequence[str]) -> float:
        """Fraction of the prototype's weight on AUs that ``aus`` contains."""
        covered = sum(w for k, w in self.weights.items() if k in aus)
        return covered / sum(self.weights.values())


def _facs_number(token: str) -> int:
    match = _FACS_TOKEN.match(token.strip().upper().removeprefix("AU"))
    if match is None:
        raise ValueError(f"bad FACS token {token!r}; expected e.g. 12, 5B or R12A")
    return int(match.group(2))


_CANON = "canonical prototype (Ekman & Friesen 1978; EMFACS-7 1983)"
_IG = "variant, Ekman, Friesen & Hager 2002, Table 10-1"

#: Prototypes per emotion; the first is the canonical one, the others IG 2002 variants.
PROTOTYPES: dict[str, tuple[Prototype, ...]] = {
    "happiness": (Prototype.parse("6+12", "25+26", source=_CANON),),
    "sadness": (
        Prototype.parse("1+4+15", "17", source=_CANON),
        Prototype.parse("1+4+11+15B", "17", source=_IG),
    ),
    "surprise": (
        Prototype.parse("1+2+5B+26", "25", source=_CANON),
        Prototype.parse("1+2+5B+27", "25", source=_IG),
    ),
    "fear": (
        Prototype.parse("1+2+4+5+7+20+26", "25+27", source=_CANON),
        Prototype.parse("1+2+4+5+20+26", "25+27", source=_IG),
    ),
    "anger": (
        Prototype.parse("4+5+7+23", "10+17+22+24+25+26", source=_CANON),
        Prototype.parse("4+5+7+24", "17", source=_IG),
    ),
    "disgust": (
        Prototype.parse("9+15+16", "25+26", source=_CANON),
        Prototype.parse("10+16", "25+26", source=_IG),
    ),
    "contempt": (Prototype.parse("R12A+R14A", weights={12: 0.5}, source=_CANON + ", unilateral"),),
}


def emotion_scores(
    au_probs: np.ndarray | torch.Tensor,
    aus: Sequence[str],
    emotions: Sequence[str] = EMOTIONS,
    min_coverage: float | None = None,
    prototypes: Mapping[str, Sequence[Prototype]] = PROTOTYPES,
    rule: str = "prototype_v1",
    thresholds: np.ndarray | torch.Tensor | float | None = None,
) -> np.ndarray | torch.Tensor:
    """Score emotions from AU probabilities with one of the rules in the module docstring.

    Args:
        au_probs: AU probabilities in [0, 1], ``(..., A)`` (sigmoid outputs, not logits).
        aus: The model's AUs, in the order of the last axis.
        emotions: Emotions to score, in output order (synonyms accepted).
        min_coverage: Least covered fraction of a prototype's weight for it to be scored
            (``None``: the rule's :data:`DEFAULT_MIN_COVERAGE`).
        prototypes: Prototypes per emotion; defaults to :data:`PROTOTYPES`.
        rule: ``"prototype_v1"`` or ``"calibrated"`` (:data:`RULES`).
        thresholds: The calibrated rule's per-AU thresholds ``(A,)`` (0.5 when ``None``).

    Returns:
        Scores ``(..., E)`` of the input's type; NaN for emotions the model cannot express.
        ``calibrated`` scores are a softmax over the expressible emotions.
    """
    keys, names = parse_aus(aus), [parse_emotion(e) for e in emotions]
    probs = _checked_probs(au_probs, keys)  # (..., A)
    min_coverage = _min_coverage(rule, min_coverage)
    if rule == "calibrated":
        usable = {n: _usable_prototypes(n, keys, min_coverage, prototypes) for n in names}
        result = calibrated_scores(probs, keys, names, usable, prototypes, thresholds)
        return result if isinstance(au_probs, torch.Tensor) else result.numpy()
    nan = torch.full(probs.shape[:-1], float("nan"), dtype=probs.dtype, device=probs.device)
    columns, scored = {}, []
    for name in (n for n in names if n != "neutral"):
        usable = _usable_prototypes(name, keys, min_coverage, prototypes)
        scores = [_prototype_score(probs, keys, p) for p in usable]  # each (...,)
        columns[name] = torch.stack(scores, -1).amax(-1) if scores else nan
        scored += [columns[name]] if scores else []
    best = torch.stack(scored, -1).amax(-1) if scored else torch.zeros_like(nan)
    columns["neutral"] = 1 - best
    result = torch.stack([columns[name] for name in names], -1)  # (..., E)
    return result if isinstance(au_probs, torch.Tensor) else result.numpy()


def _checked_probs(au_probs: np.ndarray | torch.Tensor, keys: list[str]) -> torch.Tensor:
    probs = torch.as_tensor(au_probs)  # (..., A)
    if not probs.is_floating_point():
        probs = probs.float()
    if probs.shape[-1:] != (len(keys),):
        raise ValueError(f"au_probs has shape {tuple(probs.shape)}; expected (..., {len(keys)})")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError("au_probs must be probabilities in [0, 1]; apply a sigmoid to logits")
    return probs


def _min_coverage(rule: str, min_coverage: float | None) -> float:
    if rule not in RULES:
        raise ValueError(f"unknown emotion rule {rule!r}; known: {', '.join(RULES)}")
    return DEFAULT_MIN_COVERAGE[rule] if min_coverage is None else min_coverage


def _usable_prototypes(
    name: str, keys: Sequence[str], min_coverage: float, prototypes: Mapping
) -> list[Prototype]:
    covered = [(p, p.coverage(keys)) for p in prototypes.get(name, ())]
    return [p for p, c in covered if c > 0 and c >= min_coverage]


def _prototype_score(probs: torch.Tensor, keys: list[str], proto: Prototype) -> torch.Tensor:
    inside = [i for i, k in enumerate(keys) if k in proto.weights]
    outside = [i for i, k in enumerate(keys) if k not in proto.weights and k not in proto.optional]
    weights = probs.new_tensor([proto.weights[keys[i]] for i in inside])  # (P,)
    matched = (probs[..., inside] * weights).sum(-1)  # (...,)
    return matched / (weights.sum() + probs[..., outside].sum(-1))


def predict_emotion(
    au_probs: np.ndarray | torch.Tensor,
    aus: Sequence[str],
    emotions: Sequence[str] = EMOTIONS,
    min_coverage: float | None = None,
    prototypes: Mapping[str, Sequence[Prototype]] = PROTOTYPES,
    rule: str = "prototype_v1",
    thresholds: np.ndarray | torch.Tensor | float | None = None,
) -> np.ndarray:
    """Return the best-scoring expressible emotion per face: names of shape ``(...)``.

    Arguments as for :func:`emotion_scores`.

    Raises:
        ValueError: If none of ``emotions`` is expressible with ``aus``.
    """
    names = [parse_emotion(e) for e in emotions]
    keys = parse_aus(aus)
    min_coverage = _min_coverage(rule, min_coverage)
    if not any(
        n == "neutral" or _usable_prototypes(n, keys, min_coverage, prototypes) for n in names
    ):
        raise ValueError(f"none of {names} is expressible with AUs {keys} at {min_coverage=}")
    scores = emotion_scores(au_probs, keys, names, min_coverage, prototypes, rule, thresholds)
    scores = torch.as_tensor(scores)
    index = torch.nan_to_num(scores.double(), nan=-np.inf).argmax(-1)  # (...,)
    return np.asarray(names)[index.cpu().numpy()]


def emotion_coverage(
    aus: Sequence[str],
    emotions: Sequence[str] = EMOTIONS,
    min_coverage: float = 0.5,
    prototypes: Mapping[str, Sequence[Prototype]] = PROTOTYPES,
) -> pd.DataFrame:
    """Say, per emotion, how much of its prototypes a model with ``aus`` can see.

    Neutral has no prototype (it is always scored) and gets no row.

    Returns:
        One row per emotion: ``prototype`` (the best-covered one, the canonical on ties), ``has``
        and ``lacks`` (its AU keys the model has / lacks), ``coverage`` (covered weight fraction),
        ``verdict`` ("expressible" = 1, "partial" >= 0.5, "barely covered" > 0, "not
        expressible" = 0), ``scored`` (coverage >= ``min_coverage``), ``canonical`` and
        ``canonical_coverage`` (the emotion's first, canonical prototype), ``carried_by`` (the
        model's AUs that carry the emotion under the calibrated rule; empty: not scored there).
    """
    keys = parse_aus(aus)
    rows = []
    for name in (parse_emotion(e) for e in emotions if parse_emotion(e) != "neutral"):
        if not prototypes.get(name):
            raise ValueError(f"no prototype for emotion {name!r}; known: {', '.join(prototypes)}")
        canonical = prototypes[name][0]
        best = max(prototypes[name], key=lambda p: p.coverage(keys))  # first of the best
        coverage = best.coverage(keys)
        rows.append(
            {
                "emotion": name,
                "prototype": best.code,
                "has": [k for k in best.weights if k in keys],
                "lacks": [k for k in best.weights if k not in keys],
                "coverage": coverage,
                "verdict": _verdict(coverage),
                "scored": coverage >= min_coverage,
                "canonical": canonical.code,
                "canonical_coverage": canonical.coverage(keys),
                "carried_by": carrying_aus(prototypes[name], keys),
            }
        )
    return pd.DataFrame(rows)


def _verdict(coverage: float) -> str:
    if coverage >= 1:
        return "expressible"
    if coverage >= 0.5:
        return "partial"
    return "barely covered" if coverage > 0 else "not expressible"


def format_coverage(
    aus: Sequence[str], emotions: Sequence[str] = EMOTIONS, min_coverage: float = 0.5
) -> str:
    """Return :func:`emotion_coverage` as readable lines, one per emotion."""
    keys = parse_aus(aus)
    numbers = ", ".join(k.removeprefix("AU") for k in keys)
    lines = [f"With {len(keys)} AUs ({numbers}):"]
    for row in emotion_coverage(keys, emotions, min_coverage).itertuples():
        n_has, n_all = len(row.has), len(row.has) + len(row.lacks)
        if row.verdict == "expressible":
            text = f"all of {row.prototype}"
        elif row.verdict == "not expressible":
            text = f"has none of {row.prototype}"
        else:
            only = "only " if n_has == 1 else ""
            text = (
                f"keeps {only}{', '.join(row.has)} of {row.prototype} ({n_has} of {n_all} AUs, "
                f"coverage {row.coverage:.2f}), lacks {', '.join(row.lacks)}"
            )
        if row.canonical != row.prototype:
            text += f"; canonical {row.canonical}: coverage {row.canonical_coverage:.2f}"
        scored = "" if row.scored else f"; not scored (coverage < {min_coverage})"
        lines.append(f"- {row.emotion}: {row.verdict}: {text}{scored}")
    if "neutral" in [parse_emotion(e) for e in emotions]:
        lines.append("- neutral: always scored, as 1 - the best other emotion score")
    return "\n".join(lines)
