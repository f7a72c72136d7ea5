"""AU intensity (``task=intensity``): the head, read out on 0-5, and the task that trains it.

The head is the paper's GAP → BatchNorm → ReLU → Dropout → FC with one of two read-outs:

* ``"regression"``: one linear output per AU, the intensity itself (B, A); decoded by clipping
  to ``[0, 5]``.
* ``"ordinal"``: one linear score ``f_a(x)`` per AU (the weights shared by all levels) minus
  ``K-1`` ordered cut-points ``θ_a0 < θ_a1 < ...`` per AU, giving the logits of "intensity > k"
  (B, A, K-1) that :class:`au.losses.ordinal.OrdinalIntensityLoss` takes. The cut-points are
  stored as the first one plus positive (softplus) gaps, so they stay ordered during training
  and the decoded intensities are rank-consistent by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from au.evaluation.intensity import IntensityEvaluator
from au.evaluation.intensity_metrics import intensity_metrics
from au.losses.intensity import MAX_INTENSITY
from au.losses.ordinal import exceedance_targets, ordinal_decode
from au.losses.registry import build_loss
from au.tasks.base import Task, log_scores
from au.tasks.registry import register_task

MODES = ("regression", "ordinal")
_MIN_GAP = 1e-3  # smallest cut-point gap set by init_from_prior (keeps softplus invertible)


def _inverse_softplus(values: torch.Tensor) -> torch.Tensor:
    return values + torch.log(-torch.expm1(-values))


class IntensityHead(nn.Module):
    """Maps pooled features (B, F) to raw intensity outputs per AU.

    Args:
        in_features: Backbone width (``num_features``).
        num_aus: Number of AUs.
        mode: ``"regression"`` (outputs (B, A)) or ``"ordinal"`` (outputs (B, A, 5)).
        dropout: Dropout probability before the linear layer (paper: 0.2).
    """

    def __init__(
        self, in_features: int, num_aus: int, mode: str = "regression", dropout: float = 0.2
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"intensity head mode must be one of {MODES}, got {mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"model.head.dropout must be in [0, 1), got {dropout}")
        self.mode = mode
        self.norm = nn.BatchNorm1d(in_features)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_aus, bias=mode == "regression")
        if mode == "ordinal":
            gaps = torch.full((num_aus, MAX_INTENSITY - 1), math.log(math.e - 1))  # softplus = 1
            self.first_cutpoint = nn.Parameter(torch.zeros(num_aus, 1))
            self.cutpoint_gaps = nn.Parameter(gaps)

    def cutpoints(self) -> torch.Tensor:
        """The ordered cut-points θ (A, K-1) of the ordinal read-out."""
        steps = F.softplus(self.cutpoint_gaps).cumsum(-1)  # (A, K-2)
        return torch.cat([self.first_cutpoint, self.first_cutpoint + steps], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return raw outputs: intensities (B, A) or ordinal logits (B, A, K-1)."""
        scores = self.fc(self.dropout(self.act(self.norm(features))))  # (B, A)
        if self.mode == "regression":
            return scores
        return scores.unsqueeze(-1) - self.cutpoints()  # (B, A, K-1)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        """Intensities (B, A) in ``[0, 5]`` from the raw outputs of :meth:`forward`."""
        if self.mode == "regression":
            return outputs.clamp(0.0, float(MAX_INTENSITY))
        return ordinal_decode(outputs)[0]

    @torch.no_grad()
    def init_from_prior(self, intensities: torch.Tensor, mask: torch.Tensor) -> None:
        """Start the read-out at the training distribution (a zero score predicts the prior).

        Regression: the output bias becomes each AU's mean coded intensity. Ordinal: the
        cut-points become ``-logit P(y > k)`` of the coded training labels, so a sample with
        score 0 gets the training frequencies of every level.

        Args:
            intensities: Training intensities (N, A) on 0-5.
            mask: (N, A), 1 where coded.
        """
        coded = mask.sum(0).clamp(min=1)  # (A,)
        if self.mode == "regression":
            self.fc.bias.copy_((intensities * mask).sum(0) / coded)
            return
        answers = exceedance_targets(intensities, MAX_INTENSITY) * mask.unsqueeze(-1)
        exceed = (answers.sum(0) / coded.unsqueeze(-1)).clamp(1e-4, 1 - 1e-4)  # (A, K-1)
        theta = -torch.logit(exceed)  # non-decreasing in k
        gaps = (theta[:, 1:] - theta[:, :-1]).clamp(min=_MIN_GAP)
        self.first_cutpoint.copy_(theta[:, :1])
        self.cutpoint_gaps.copy_(_inverse_softplus(gaps))


@register_task("intensity")
class IntensityTask(Task):
    """``task=intensity``: one 0-5 estimate per AU, regression or ordinal, monitored by ICC.

    Args:
        loss: A registered intensity loss: ``mse`` or ``smooth_l1`` (regression head,
            :mod:`au.losses.intensity`) or ``ordinal`` (CORAL cut-points,
            :mod:`au.losses.ordinal`); its ``head_mode`` picks the head.
        beta: Where ``smooth_l1`` turns from quadratic to linear (intensity units).
    """

    name = "intensity"
    headline = "icc"
    stored_keys = ("intensity_estimates", "intensity", "mask")
    inference_names = ("intensities",)
    output_meanings = {
        "intensities": "float32: AU intensity on 0-5 (0 absent, 1-5 FACS levels A-E)"
    }
    #: Intensity at or above which an AU counts as present when the checkpoint records no
    #: ``data.positive_threshold`` (the intensity data sets' own: DISFA's and the synthetic set's).
    default_occurrence_threshold: float = 2.0

    def __init__(self, loss: str = "mse", beta: float = 1.0):
        options = {"beta": beta} if loss == "smooth_l1" else {}
        self.loss_fn = build_loss({"name": loss, **options}, "intensity", key="task.loss")
        self.mode = self.loss_fn.head_mode

    def build_loss(self, config: Mapping | None) -> nn.Module:
        """The task's own intensity loss (``task.loss``); ``model.loss`` is not read."""
        return self.loss_fn

    def targets(self, index, aus: list[str]) -> dict[str, np.ndarray]:
        """Coded intensities ``intensity`` (N, A); an occurrence-only index is refused."""
        return {"intensity": index.intensities(aus)[0]}

    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """An :class:`IntensityHead` in the loss's mode."""
        return IntensityHead(in_features, num_aus, mode=self.mode, **options)

    def init_from_data(self, module, datamodule) -> None:
        """Start the read-out at the training intensities (mean, or level frequencies)."""
        train = datamodule.datasets["train"]
        module.head.init_from_prior(train.targets["intensity"], train.mask)

    def loss(self, module, outputs: torch.Tensor, batch: dict) -> torch.Tensor:
        """Masked regression or ordinal loss against the coded intensities."""
        return self.loss_fn(outputs, batch["intensity"], batch["mask"])

    def stored(self, module, outputs: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """Decoded estimates, coded intensities and masks (B, A)."""
        estimates = module.head.decode(outputs)
        return {"intensity_estimates": estimates, "intensity": batch["intensity"],
                "mask": batch["mask"]}  # fmt: skip

    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Log ICC(3,1), PCC and MAE (per AU and averaged); no decision step to fit."""
        self._log(module, "val", out)

    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log the test scores; the evaluator reads ``out``."""
        self._log(module, "test", out)
        return out

    def evaluator(self, module, datamodule, split: str, figure_dir=None) -> IntensityEvaluator:
        """The intensity evaluator (beside the training-mean baseline)."""
        return IntensityEvaluator.for_model(module, datamodule, split, figure_dir)

    def inference_outputs(self, module, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """``intensities`` (B, A) on 0-5, decoded by the head (clipped, or ordinal expectation)."""
        return {"intensities": module.head.decode(outputs)}

    def _log(self, module, split: str, out: dict[str, torch.Tensor]) -> None:
        aus = module.aus
        no_baseline = torch.zeros(len(aus))
        metrics = intensity_metrics(
            out["intensity_estimates"].double(), out["intensity"].double(), out["mask"], aus,
            no_baseline,
        )  # fmt: skip
        average = metrics.iloc[-1]
        scores = {"icc": average["icc"], "pcc": average["pearson"], "mae": average["mae"]}
        for row in metrics.iloc[:-1].itertuples():
            scores |= {f"icc/{row.au}": row.icc, f"mae/{row.au}": row.mae}
        log_scores(module, split, scores, "icc")
