"""``python -m au.bench``: speed figures of the paper's backbones on this machine (not a test).

Prints, for each backbone in one run: parameters, FLOPs, inference, fine-tuning and frozen-
backbone (stage 1) training images/s, head-only images/s on cached features, the MobileNet vs
DenseNet speed ratios, data-loader images/s on the synthetic set, and stage-1 time with and
without the feature cache (with the validation F1 each reaches). Figures are ratios within one
run; absolute numbers vary with the machine.

Example:
    python -m au.bench --image-size 224 --out experiments/benchmarks/cpu.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from au.models.backbone import feature_width  # noqa: E402
from au.models.module import AULitModule  # noqa: E402

PAPER_BACKBONES = ("mobilenet_v1", "mobilenet_v2", "densenet121", "densenet201")
AUS = [f"AU{n}" for n in (1, 2, 4, 6, 9, 12, 25, 26)]


def _images_per_second(step, batch_size: int, iters: int) -> float:
    step()  # warm-up
    started = time.perf_counter()
    for _ in range(iters):
        step()
    return batch_size * iters / (time.perf_counter() - started)


def backbone_figures(name: str, image_size: int, batch_size: int, iters: int) -> dict:
    """Parameters, GFLOPs and images/s of one backbone with the AU head."""
    module = AULitModule(AUS, backbone={"name": name, "pretrained": False}, channels_last=True)
    images = torch.randn(batch_size, 3, image_size, image_size)
    labels = torch.randint(0, 2, (batch_size, len(AUS))).float()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(images[:1])
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)

    def train_step():
        module.train()
        optimizer.zero_grad()
        module.loss_fn(module(images), labels).backward()
        optimizer.step()

    def frozen_step():
        module.train()
        with torch.no_grad():
            features = module.backbone.eval()(images.contiguous(memory_format=torch.channels_last))
        optimizer.zero_grad()
        module.loss_fn(module.head(features), labels).backward()
        optimizer.step()

    features = torch.randn(batch_size, feature_width(module.backbone))

    def head_step():
        optimizer.zero_grad()
        module.loss_fn(module.head(features), labels).backward()
        optimizer.step()

    with torch.no_grad():
        inference = _images_per_second(lambda: module.eval()(images), batch_size, iters)
    return {
        "backbone": name,
        "params (M)": sum(p.numel() for p in module.parameters()) / 1e6,
        "GFLOPs": counter.get_total_flops() / 1e9,
        "inference img/s": inference,
        "fine-tune img/s": _images_per_second(train_step, batch_size, max(2, iters // 2)),
        "stage-1 img/s": _images_per_second(frozen_step, batch_size, iters),
        "head on cached features img/s": _images_per_second(head_step, batch_size, 50),
    }


def loader_figures(num_workers: int) -> dict:
    """Images/s of the training loader (decode + augmentation) on the default synthetic set."""
    from au.data.datamodule import AUDataModule
    from au.data.synthetic import SyntheticConfig

    datamodule = AUDataModule(
        synthetic=SyntheticConfig().__dict__,
        image_size=112,
        batch_size=32,
        num_workers=num_workers,
    )
    datamodule.prepare_data()
    datamodule.setup()
    started, count = time.perf_counter(), 0
    for batch in datamodule.train_dataloader():
        count += len(batch["image"])
    return {
        "loader": f"train, {num_workers} workers",
        "img/s": count / (time.perf_counter() - started),
    }


def stage1_figures(backbone: str, epochs: int) -> list[dict]:
    """Stage 1 (frozen backbone) on the synthetic set with and without the feature cache."""
    from au.fit import run_fit
    from au.run.config import compose_config

    rows = []
    cache_dir = Path("logs/bench/feature-cache")
    shutil.rmtree(cache_dir, ignore_errors=True)
    modes = (
        ("uncached", False, "null"),
        ("cached (cold: features computed)", True, cache_dir),
        ("cached (warm: features on disk)", True, cache_dir),
    )
    for label, cache, directory in modes:
        output = Path("logs/bench") / f"stage1-{backbone}-{label.split()[0]}-{len(rows)}"
        overrides = [
            f"backbone={backbone}",
            "schedule=stage1_only",
            f"schedule.stage1_max_epochs={epochs}",
            f"schedule.patience={epochs}",
            f"schedule.cache_features={cache}",
            f"schedule.feature_cache_dir={directory}",
            "data.augment=false",
            "logger=csv",
            "test=false",
            "trainer.enable_progress_bar=false",
            f"paths.output_dir={output}",
        ]
        config = compose_config("fit", overrides)
        started = time.perf_counter()
        run_fit(config)
        seconds = time.perf_counter() - started
        metrics = pd.read_csv(output / "csv" / "metrics.csv")
        rows.append(
            {
                "stage 1": label,
                "epochs": epochs,
                "seconds": seconds,
                "best val F1": metrics["val/f1"].max(),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally save) the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m au.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backbones", default=",".join(PAPER_BACKBONES))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--stage1-backbone", default="mobilenet_v2")
    parser.add_argument("--stage1-epochs", type=int, default=10)
    parser.add_argument("--skip-stage1", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write a markdown report")
    args = parser.parse_args(argv)

    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}"
    )
    models = pd.DataFrame(
        [
            backbone_figures(b, args.image_size, args.batch_size, args.iters)
            for b in args.backbones.split(",")
        ]
    ).set_index("backbone")
    sections = [
        f"Machine: {machine}",
        f"Backbones at {args.image_size}x{args.image_size}, batch "
        f"{args.batch_size}:\n\n" + models.round(2).to_markdown(),
    ]
    speed = models["inference img/s"]
    ratios = [
        f"{a} / {b}: inference x{speed[a] / speed[b]:.1f}, fine-tune "
        f"x{models['fine-tune img/s'][a] / models['fine-tune img/s'][b]:.1f}"
        for a in speed.index
        if "mobilenet" in a
        for b in speed.index
        if "densenet" in b
    ]
    sections.append(
        "MobileNet vs DenseNet speed ratios (paper: about 3x):\n\n- " + "\n- ".join(ratios)
    )
    loaders = pd.DataFrame([loader_figures(0), loader_figures(2)])
    sections.append(
        "Data loading (synthetic set, 112 px):\n\n" + loaders.round(0).to_markdown(index=False)
    )
    if not args.skip_stage1:
        stage1 = pd.DataFrame(stage1_figures(args.stage1_backbone, args.stage1_epochs))
        speedup = stage1["seconds"][0] / stage1["seconds"]
        sections.append(
            f"Stage 1 of {args.stage1_backbone} on the synthetic set (fit incl. "
            f"validation):\n\n{stage1.round(3).to_markdown(index=False)}\n\n"
            f"speed-up over uncached: cold x{speedup[1]:.1f}, warm x{speedup[2]:.1f}"
        )
    report = "\n\n".join(sections)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"# au.bench\n\n{report}\n")


if __name__ == "__main__":
    main()
