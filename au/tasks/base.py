"""What a task is: the plug-in that the Lightning module and the data module call.

:class:`~au.models.module.AULitModule` and :class:`~au.data.datamodule.AUDataModule` call
the task, so fit runs AU occurrence, intensity, emotion or both heads without
``if task == ...`` in the training code.

A task gives

- the targets the dataset returns beside ``labels``/``mask`` (:meth:`Task.targets`), and
  whether the data must code AUs (:attr:`Task.needs_au_labels`);
- the head on the backbone's pooled features (:meth:`Task.build_head`), the loss it trains
  with (:meth:`Task.build_loss`, a registered loss of the target the task trains, and
  :meth:`Task.loss`), and the state it keeps in the checkpoint beside the head
  (:meth:`Task.build_state`: the AU decision step's thresholds); the ``model.*`` sections it
  reads besides backbone, head and optimizer (:attr:`Task.model_sections`: a run that sets
  another, e.g. ``loss=lsep`` under ``task=emotion``, is refused);
- what each evaluation step keeps (:meth:`Task.stored`), the validation decision step and the
  logged validation / test metrics (:meth:`Task.validation_end`, :meth:`Task.test_end`); the
  checkpoint monitor is set by the task's config (``schedule.monitor`` in ``configs/task/``);
- the decision step re-fitted on stored validation outputs by ``au.evaluate retune=true``
  (:attr:`Task.has_decision_step`, :meth:`Task.fit_decision`);
- the evaluator that writes the run record (:meth:`Task.evaluator`);
- what a user of the trained model gets (:meth:`Task.inference_outputs`, named by
  :attr:`Task.inference_names`, the labels of their last axis by :meth:`Task.output_labels`):
  ``au.predict`` and ``au.export`` run every task's checkpoint through it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from au.evaluation.evaluator import Evaluator


class Task(ABC):
    """Base class of every task; see the module docstring for the hooks."""

    #: The task's name (``task=<name>``).
    name: str = "task"
    #: Whether the data must code at least one row of every AU (the AU heads need them).
    needs_au_labels: bool = True
    #: The record's headline score (``summary.json`` key).
    headline: str = "f1"
    #: The keys of :meth:`stored` (the module's prediction stores are built with them).
    stored_keys: tuple[str, ...] = ()
    #: The keys of :meth:`inference_outputs`, in order (the exported model's output names).
    inference_names: tuple[str, ...] = ()
    #: What each inference output holds, in words (the exported sidecar's ``meaning``). An
    #: output au.predict does not know writes one ``<name>_<label>`` column per label.
    output_meanings: dict[str, str] = {}
    #: Whether the task decides by a step fitted on validation (AU thresholds), which
    #: :meth:`fit_decision` re-fits.
    has_decision_step: bool = False
    #: The ``model.*`` sections the task reads besides backbone, head and optimizer
    #: (``loss``, ``decision``); a run that sets another is refused (au.run.config_checks).
    model_sections: tuple[str, ...] = ()

    def targets(self, index, aus: list[str]) -> dict[str, np.ndarray]:
        """Per-row targets (N, ...) of an :class:`~au.data.index.AUIndex` beyond AU labels."""
        return {}

    def check_targets(self, targets: Mapping[str, np.ndarray], where: str) -> None:
        """Raise ``ValueError`` naming ``where`` if the data hold none of the task's targets."""
        return None  # optional hook: tasks without extra targets check nothing

    @abstractmethod
    def build_head(self, in_features: int, num_aus: int, options: dict) -> nn.Module:
        """The head on pooled backbone features (B, F)."""

    @abstractmethod
    def build_loss(self, config: Mapping | None) -> nn.Module:
        """The training loss (a registered loss, :mod:`au.losses.registry`).

        ``config`` is ``model.loss``; a task that does not list ``loss`` in
        :attr:`model_sections` trains with its own and ignores it.
        """

    def build_state(
        self, num_aus: int, loss: Mapping | None, decision: Mapping | None
    ) -> nn.Module:
        """What the task keeps in the checkpoint beside the head (``module.task_state``).

        ``loss`` and ``decision`` are ``model.loss`` and ``model.decision``. None by default.
        """
        return nn.Module()

    def init_from_data(self, module, datamodule) -> None:
        """Start the head at the training data's prior (a fresh fit only, never on resume)."""
        return None  # optional hook: the default head keeps its initialisation

    @abstractmethod
    def loss(self, module, outputs, batch: dict) -> torch.Tensor:
        """The training loss of a batch's head ``outputs``."""

    @abstractmethod
    def stored(self, module, outputs, batch: dict) -> dict[str, torch.Tensor]:
        """What an evaluation step keeps per sample (each (B, ...)); ``ids`` is added."""

    @abstractmethod
    def validation_end(self, module, out: dict[str, torch.Tensor]) -> None:
        """Fit the decision step on validation (not while sanity checking) and log metrics."""

    def fit_decision(self, module, out: dict[str, torch.Tensor]) -> None:
        """Re-fit the decision step on a split's stored outputs (``au.evaluate retune=true``)."""
        return None  # optional hook: a task without a decision step has nothing to fit

    @abstractmethod
    def test_end(self, module, out: dict[str, torch.Tensor]) -> dict:
        """Log test metrics; return what :meth:`evaluator` processes (``module.test_results``)."""

    @abstractmethod
    def evaluator(self, module, datamodule, split: str, figure_dir=None) -> Evaluator:
        """The evaluator of the module on a data module's split (decision step fitted).

        With ``figure_dir`` the evaluator also draws the task's figures there (PNG).
        """

    @abstractmethod
    def inference_outputs(self, module, outputs) -> dict[str, torch.Tensor]:
        """What a user of the model gets from the head's raw ``outputs``, by name.

        Keys are :attr:`inference_names`, in order; each value is a float tensor (B, ...).
        ``module`` needs only ``head`` (the exported model passes itself).
        """

    def output_labels(self, aus: Sequence[str]) -> dict[str, list[str]]:
        """What the last axis of each inference output holds: the model's AUs by default."""
        return {name: list(aus) for name in self.inference_names}


def log_scores(module, split: str, scores: Mapping[str, float], headline: str) -> None:
    """Log finite ``scores`` as ``<split>/<key>``; the headline always (0.0 when undefined).

    The headline is the checkpoint monitor, so it must exist every epoch; a NaN one (e.g. no
    labelled validation row yet) is logged as 0.0.
    """
    values = {f"{split}/{k}": float(v) for k, v in scores.items() if np.isfinite(float(v))}
    top = values.pop(f"{split}/{headline}", 0.0)
    module.log_dict(values)
    module.log(f"{split}/{headline}", top, prog_bar=True)
