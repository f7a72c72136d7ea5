"""AULitModule: backbone ▸ the task's head ▸ the task's loss; the task keeps its own state.

The module knows no task: the task (:mod:`au.tasks`) builds the head, the loss and the state it
keeps in the checkpoint (``task_state``: the AU decision step's thresholds), and decides what
evaluation stores and logs.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L  # noqa: N812
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchmetrics import CatMetric

from au.models.backbone import create_backbone, feature_width, group_module_names
from au.models.checkpoint import (
    detector_hyper_parameters,
    read_checkpoint,
    recorded_positive_threshold,
)
from au.tasks.registry import build_task

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


class PredictionStore(nn.Module):
    """Collects per-sample tensors and row ids over an epoch (synced and de-duplicated).

    Args:
        keys: What each batch adds besides ``ids`` (the task's :meth:`~au.tasks.base.Task.
            stored`, e.g. AU ``logits``, ``labels``, ``mask``).
    """

    def __init__(self, keys: tuple[str, ...] = ("logits", "labels", "mask")):
        super().__init__()
        self.parts = nn.ModuleDict({k: CatMetric() for k in (*keys, "ids")})
        self.shapes: dict[str, tuple[int, ...]] = {}

    def update(self, ids: torch.Tensor, **values: torch.Tensor) -> None:
        """Add one batch: sample ``ids`` (B,) and every key's (B, ...) values."""
        for key, value in {**values, "ids": ids}.items():
            self.shapes[key] = tuple(value.shape[1:])
            self.parts[key].update(value.detach().float())

    def compute(self) -> dict[str, torch.Tensor]:
        """All rows seen (across processes), each once, in row-id order, then reset."""
        values = {k: torch.atleast_1d(m.compute()) for k, m in self.parts.items()}
        rows = values["ids"].numel()
        ids, first = _first_occurrence(values.pop("ids").long())
        for metric in self.parts.values():
            metric.reset()
        out = {k: v.reshape(rows, *self.shapes[k])[first] for k, v in values.items()}
        out["ids"] = ids
        return out


def _first_occurrence(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    unique, inverse = torch.unique(ids, return_inverse=True)
    first = torch.full_like(unique, ids.numel()).scatter_reduce(
        0, inverse, torch.arange(ids.numel(), device=ids.device), reduce="amin"
    )
    return unique, first


#: Where the AU decision buffers sat in checkpoints written before the task kept them.
_OLD_DECISION_KEYS = ("thresholds", "tuned", "frame_threshold")


class AULitModule(L.LightningModule):
    """A timm backbone under a task's head (AU occurrence: the paper's head and an AU loss).

    Args:
        aus: AU keys in output order.
        backbone: Keyword arguments of :func:`au.models.backbone.create_backbone`.
        head: Keyword arguments of :class:`au.tasks.head.AUHead` (``dropout``).
        loss: ``{"name": a registered occurrence loss, **kwargs}`` (:mod:`au.losses.registry`:
            bce, weighted_bce, lsep, pr, focal, asl, zlpr); read by the AU tasks only.
        optimizer: ``{"name": "adam", "lr": head lr, "finetune_lr": backbone lr, **the
            optimizer's keyword arguments (e.g. weight_decay)}``. The head's stage-2 rate is
            the schedule's (``schedule.head_finetune_lr``).
        data_config: Preprocessing a checkpoint's users need (image_size, channels, mean, std).
        channels_last: Use the channels-last memory format (faster convolutions on CPU/GPU).
        decision: The AU decision step's settings (:class:`~au.tasks.decision.AUDecision`),
            fitted on the validation frames after every validation epoch; AU tasks only.
        task: ``{"name": "au" (default), "intensity", "emotion" or "joint", **options}``
            (:mod:`au.tasks`): the head, its loss, what evaluation keeps and logs. ``loss`` and
            ``decision`` are the AU head's (``au``, ``joint``).
    """

    def __init__(
        self,
        aus: list[str],
        backbone: dict,
        head: dict | None = None,
        loss: dict | None = None,
        optimizer: dict | None = None,
        data_config: dict | None = None,
        channels_last: bool = False,
        decision: dict | None = None,
        task: dict | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.aus = list(aus)
        self.task = build_task(task)
        self.backbone = create_backbone(**backbone)
        self.head = self.task.build_head(feature_width(self.backbone), len(self.aus), head or {})
        self.loss_fn = self.task.build_loss(loss)
        self.task_state = self.task.build_state(len(self.aus), loss, decision)
        self.optimizer_config = {
            "name": "adam",
            "lr": 1e-3,
            "finetune_lr": 1e-5,
            **(optimizer or {}),
        }
        keys = self.task.stored_keys
        self.val_store, self.test_store = PredictionStore(keys), PredictionStore(keys)
        self.test_results: dict = {}
        if channels_last:
            self.to(memory_format=torch.channels_last)

    # ---- model -------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, A) for images (B, C, H, W)."""
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.head(self.backbone(images))

    def logits(self, batch: dict) -> torch.Tensor:
        """Logits of a batch of images, or of pre-computed backbone features (stage 1 cache)."""
        if "features" in batch:
            return self.head(batch["features"])
        return self(batch["image"])

    def freeze_backbone(self) -> None:
        """Stage 1: no backbone parameter trains and BatchNorm statistics stay fixed."""
        self.backbone.requires_grad_(False)
        self.train(self.training)

    def unfreeze_backbone(self, last_blocks: int | None = None, train_bn: bool = True) -> None:
        """Stage 2: make all blocks, or the last ``last_blocks`` of timm's grouping, trainable."""
        groups = group_module_names(self.backbone)
        if last_blocks is not None and not 1 <= last_blocks <= len(groups):
            raise ValueError(
                f"unfreeze last_blocks={last_blocks}: {self.hparams.backbone['name']}"
                f" has {len(groups)} blocks"
            )
        for names in groups if last_blocks is None else groups[-last_blocks:]:
            for name in names:
                module = self.backbone.get_submodule(name)
                if train_bn or not isinstance(module, _BatchNorm):
                    module.requires_grad_(True)
        self.train(self.training)

    def train(self, mode: bool = True):
        """Set train mode, keeping BatchNorm layers with frozen parameters in eval mode."""
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                frozen = not any(p.requires_grad for p in module.parameters(recurse=False))
                if isinstance(module, _BatchNorm) and frozen:
                    module.eval()
        return self

    def configure_optimizers(self):
        """Two parameter groups: head (``lr``) and backbone (``finetune_lr``)."""
        config = dict(self.optimizer_config)
        name = config.pop("name")
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
        lr, finetune_lr = config.pop("lr"), config.pop("finetune_lr")
        groups = [
            {"params": list(self.head.parameters()), "lr": lr, "name": "head"},
            {"params": list(self.backbone.parameters()), "lr": finetune_lr, "name": "backbone"},
        ]
        return OPTIMIZERS[name](groups, **config)

    # ---- steps -------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        """One optimisation step on a batch."""
        outputs = self.logits(batch)  # task=au: (B, A)
        loss = self.task.loss(self, outputs, batch)
        size = len(batch["index"])
        self.log("train/loss", loss, prog_bar=True, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Accumulate validation predictions."""
        self._eval_step(batch, self.val_store, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        """Accumulate test predictions."""
        self._eval_step(batch, self.test_store, "test")

    def _eval_step(self, batch: dict, store: PredictionStore, split: str) -> None:
        outputs = self.logits(batch)
        loss = self.task.loss(self, outputs, batch)
        self.log(f"{split}/loss", loss, batch_size=len(batch["index"]), sync_dist=True)
        store.update(batch["index"], **self.task.stored(self, outputs, batch))

    def on_validation_epoch_end(self) -> None:
        """The task fits its decision step on validation and logs its metrics.

        AU occurrence: thresholds (or the frame-threshold estimator), then F1 at them and at
        0.5 and ROC-AUC.
        """
        self.task.validation_end(self, self.val_store.compute())

    def on_test_epoch_end(self) -> None:
        """The task logs test metrics (AU: at the validation-fitted decisions and at 0.5)."""
        self.test_results = self.task.test_end(self, self.test_store.compute())

    # ---- checkpoints -------------------------------------------------------------------
    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Move a checkpoint's AU decision buffers into ``task_state``.

        Checkpoints written before the task kept them hold ``thresholds``, ``tuned`` and
        ``frame_threshold.*`` on the module itself.
        """
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.split(".")[0] in _OLD_DECISION_KEYS]:
            state[f"task_state.{key}"] = state.pop(key)

    @classmethod
    def load_detector(cls, path: str | Path, map_location: str = "cpu") -> AULitModule:
        """Load a trained detector for inference; no ImageNet weights are needed.

        The file is read once, with ``weights_only=True`` (:mod:`au.models.checkpoint`): a
        checkpoint that is missing, truncated or needs code to load raises ``CheckpointError``.
        What inference needs from the rest of the checkpoint is kept on the model:
        ``recorded_positive_threshold`` (the training data's ``data.positive_threshold``).
        """
        path = Path(path).expanduser()
        checkpoint = read_checkpoint(path)
        hparams = detector_hyper_parameters(checkpoint, path)
        hparams["backbone"] = {**hparams["backbone"], "pretrained": False, "weights": None}
        model = cls(**hparams)
        model.on_load_checkpoint(checkpoint)
        model.load_state_dict(checkpoint["state_dict"])
        model.recorded_positive_threshold = recorded_positive_threshold(checkpoint)
        return model.to(map_location).eval()
