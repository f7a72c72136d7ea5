"""``seed`` drives the training order and augmentation; ``data.split_seed`` only the split."""

import torch

from au.data.datamodule import AUDataModule
from tests.conftest import SMALL_SYNTHETIC


def _first_batches(data_root, seed: int, split_seed: int = 0, epoch: int = 0, batches: int = 2):
    datamodule = AUDataModule(
        synthetic=SMALL_SYNTHETIC,
        data_root=str(data_root),
        image_size=32,
        batch_size=8,
        seed=seed,
        split_seed=split_seed,
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.set_epoch(seed, epoch)
    loader = datamodule.train_dataloader()
    loader.sampler.set_epoch(epoch)
    out = []
    for _, batch in zip(range(batches), loader, strict=False):
        out.append(batch)
    return datamodule, out


def test_same_seed_same_batches_other_seed_other_batches(small_synthetic, data_root):
    _, a = _first_batches(data_root, seed=3)
    _, b = _first_batches(data_root, seed=3)
    _, c = _first_batches(data_root, seed=4)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x["index"], y["index"])
        assert torch.equal(x["image"], y["image"])  # the augmentation repeats too
    assert not torch.equal(a[0]["index"], c[0]["index"]), "another seed must reorder batches"


def test_augmentation_follows_the_seed_for_the_same_image(small_synthetic, data_root):
    module_a, _ = _first_batches(data_root, seed=3, batches=0)
    module_b, _ = _first_batches(data_root, seed=4, batches=0)
    sample_a = module_a.datasets["train"][0]["image"]
    sample_b = module_b.datasets["train"][0]["image"]
    module_a.set_epoch(3, 0)
    assert torch.equal(sample_a, module_a.datasets["train"][0]["image"])
    assert not torch.equal(sample_a, sample_b)


def test_split_seed_changes_validation_subjects_not_test(small_synthetic, data_root):
    module_a, _ = _first_batches(data_root, seed=0, split_seed=0, batches=0)
    module_b, _ = _first_batches(data_root, seed=0, split_seed=7, batches=0)
    assert module_a.subjects["test"] == module_b.subjects["test"]
    assert module_a.subjects["val"] != module_b.subjects["val"]


def test_epoch_changes_the_order(small_synthetic, data_root):
    _, first = _first_batches(data_root, seed=3, epoch=0)
    _, second = _first_batches(data_root, seed=3, epoch=1)
    assert not torch.equal(first[0]["index"], second[0]["index"])


def test_a_resumed_run_replays_the_batches_of_its_epoch(small_synthetic, data_root):
    # An uninterrupted run reaches epoch 2 after iterating epochs 0 and 1; a resumed run starts
    # fresh at epoch 2. Both must see the same batches, augmentation included.
    running, _ = _first_batches(data_root, seed=5, epoch=0, batches=3)
    for epoch in (1, 2):
        running.set_epoch(5, epoch)
        loader = running.train_dataloader()
        loader.sampler.set_epoch(epoch)
        if epoch == 1:
            for _ in loader:
                pass
    continued = [batch for _, batch in zip(range(2), loader, strict=False)]
    _, resumed = _first_batches(data_root, seed=5, epoch=2)
    for x, y in zip(continued, resumed, strict=True):
        assert torch.equal(x["index"], y["index"]) and torch.equal(x["image"], y["image"])
