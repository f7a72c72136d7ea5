"""``python -m au.fit``: train an AU detector (two-stage transfer learning) and test it.

Examples:
    python -m au.fit                                   # MobileNetV2 + BCE on the synthetic set
    python -m au.fit experiment=lsep backbone=densenet201 data.fold=2 seed=1
    python -m au.fit -m loss=bce,lsep,pr backbone=mobilenet_v1,mobilenet_v2
    python -m au.fit ckpt_path=logs/fit/runs/.../checkpoints/last.ckpt   # resume
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import lightning as L  # noqa: N812, E402
from omegaconf import DictConfig  # noqa: E402

from au.builders import build_datamodule, build_module, build_trainer  # noqa: E402
from au.report import condition_report, test_report, write_report  # noqa: E402


def run_fit(config: DictConfig) -> dict:
    """Train and (optionally) test as configured; returns the test summary metrics."""
    output_dir = Path(config.paths.output_dir)
    L.seed_everything(config.seed, workers=True)
    datamodule = build_datamodule(config)
    sizes = {split: len(ds) for split, ds in datamodule.datasets.items()}
    print(f"data: {datamodule.index.root} {sizes} subjects {datamodule.subjects}")
    module = build_module(config, datamodule)
    trainer = build_trainer(config, output_dir)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=config.get("ckpt_path"))
    print(
        f"training took {time.perf_counter() - started:.0f} s; best checkpoint: "
        f"{trainer.checkpoint_callback.best_model_path}"
    )
    if not config.get("test", True):
        return {}
    trainer.test(module, datamodule=datamodule, ckpt_path="best", verbose=False)
    conditions = condition_report(module, datamodule)
    text = write_report(test_report(module, datamodule), conditions, output_dir / "results")
    print("\n" + text + f"\nresults: {output_dir / 'results'}")
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}


@hydra.main(version_base="1.3", config_path="../configs", config_name="fit")
def main(config: DictConfig) -> float | None:
    """Hydra entry point; returns test/f1 (for sweepers)."""
    return run_fit(config).get("test/f1")


if __name__ == "__main__":
    main()
