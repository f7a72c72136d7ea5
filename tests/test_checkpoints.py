"""``best.ckpt`` follows the monitor, ``last.ckpt`` every validation (what a killed run resumes)."""

import lightning as L  # noqa: N812
import torch
from torch.utils.data import DataLoader, TensorDataset

from au.run.builders import build_checkpoints


class WorseEveryEpoch(L.LightningModule):
    """A linear model whose logged ``val/f1`` falls every epoch: the best epoch is the first."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        return torch.nn.functional.mse_loss(self.layer(inputs), targets)

    def validation_step(self, batch, batch_idx):
        self.log("val/f1", 1.0 / (self.current_epoch + 1))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_last_checkpoint_is_the_latest_epoch_even_without_improvement(tmp_path):
    data = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)
    callbacks = build_checkpoints(tmp_path, monitor="val/f1", mode="max")
    trainer = L.Trainer(
        max_epochs=4,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(WorseEveryEpoch(), train_dataloaders=data, val_dataloaders=data)
    assert trainer.checkpoint_callback is callbacks[0]
    saved = {
        name: torch.load(tmp_path / name, weights_only=False) for name in ("best.ckpt", "last.ckpt")
    }
    assert saved["best.ckpt"]["epoch"] == 0  # val/f1 1.0, then 0.5, 0.33, 0.25
    assert saved["last.ckpt"]["epoch"] == 3 and saved["last.ckpt"]["global_step"] == 8
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]
    assert callbacks[1].best_model_path == str(tmp_path / "last.ckpt")
