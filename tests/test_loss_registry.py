"""Adding a loss is one module and one YAML: a toy loss registered here trains through au.fit's
builders, and the config check accepts exactly its arguments."""

import pytest
import torch
from torch import nn

from au.losses.masking import full_mask, masked_mean
from au.losses.registry import (
    build_loss,
    loss_arguments,
    loss_class,
    losses_for,
    options_from_training_labels,
    register_loss,
    registered_losses,
)
from au.models.module import AULitModule
from au.run.config import compose_config


@register_loss("toy_l1")
class ToyL1Loss(nn.Module):
    """``scale * |sigmoid(logit) - y|`` averaged over coded labels (the "module")."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, logits, targets, mask=None):
        errors = self.scale * (torch.sigmoid(logits) - targets).abs()
        return masked_mean(errors, full_mask(targets, mask))


def toy_config(tmp_path, *overrides):
    """The fit config with ``configs/loss/toy_l1.yaml`` (the "YAML") on Hydra's search path."""
    (tmp_path / "loss").mkdir(exist_ok=True)
    (tmp_path / "loss" / "toy_l1.yaml").write_text(
        "# @package model.loss\nname: toy_l1\nscale: 2.0\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path}]"
    return compose_config("fit", [search, "loss=toy_l1", "paths.output_dir=x", *overrides])


def test_a_toy_loss_is_one_module_and_one_yaml(tmp_path):
    config = toy_config(tmp_path)
    assert dict(config.model.loss) == {"name": "toy_l1", "scale": 2.0}
    assert config.experiment_name == "toy_l1" and "toy_l1" in registered_losses()
    assert loss_arguments("toy_l1") == ["scale"]
    module = AULitModule(
        aus=["AU1", "AU2"], backbone={"name": "tiny", "pretrained": False}, loss=config.model.loss
    )
    # p = .5 everywhere: 2 * |.5 - y| = 1 for each coded label
    logits, targets = torch.zeros(3, 2), torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert float(module.loss_fn(logits, targets)) == pytest.approx(1.0)
    # sigmoid(ln 3) = .75: 2 * |.75 - 1| = .5 and 2 * |.75 - 0| = 1.5; the second is masked out
    logits = torch.full((1, 2), float(torch.log(torch.tensor(3.0))))
    value = module.loss_fn(logits, torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
    assert float(value) == pytest.approx(0.5)
    assert module.task_state.name == "per_au"  # not a ranking loss


def test_unknown_loss_names_the_registered_ones():
    with pytest.raises(
        ValueError,
        match=r"loss='toy_l2' is not a registered loss; the occurrence losses are .*toy_l1.* "
        r"\(did you",
    ):
        build_loss({"name": "toy_l2"})


def test_a_loss_declares_what_it_trains_and_a_task_refuses_another_kind():
    """LSEP only ranks (the auto decision step gives it a frame threshold); an intensity loss
    is not an occurrence loss."""
    assert (loss_class("lsep").ranking, loss_class("bce").ranking) == (True, False)
    assert {loss_class(n).target for n in ("mse", "smooth_l1", "ordinal")} == {"intensity"}
    assert loss_class("cross_entropy").target == "emotion"
    assert "mse" not in losses_for("occurrence") and "bce" in losses_for("occurrence")
    with pytest.raises(
        ValueError, match="loss='ordinal' trains intensity; the occurrence losses are asl"
    ):
        build_loss({"name": "ordinal"})


def test_a_loss_derives_its_options_from_the_training_labels():
    labels = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    mask = torch.ones_like(labels)
    # negatives / positives per AU: 3 / 1 and 2 / 2
    weighted = options_from_training_labels(
        {"name": "weighted_bce", "max_weight": 50.0}, labels, mask
    )
    assert weighted == {"name": "weighted_bce", "max_weight": 50.0, "pos_weight": [3.0, 1.0]}
    assert torch.equal(build_loss(weighted).pos_weight, torch.tensor([3.0, 1.0]))
    assert options_from_training_labels({"name": "bce"}, labels, mask) == {"name": "bce"}
