"""``python -m au.evaluate``: score a trained checkpoint on held-out subjects, with figures.

Per-AU precision, recall, F1, ROC-AUC, PR-AUC and support, at the per-AU thresholds saved in
the checkpoint (tuned on validation subjects during training) and at 0.5, beside the trivial
baselines. The data settings (data set, fold, AUs) are the checkpoint's own unless overridden.

Examples:
    python -m au.evaluate ckpt_path=logs/fit/runs/lsep-mobilenetv2_100/DATE/checkpoints/best.ckpt
    python -m au.evaluate ckpt_path=... retune=true            # re-tune on validation subjects
    python -m au.evaluate ckpt_path=... +data.data_root=/data  # the data moved
    python -m au.evaluate ckpt_path=... data=index data.index_csv=other/index.csv  # another set

Results go to ``<run>/evaluation/<split>/`` (``paths.output_dir=...`` to change it) as the
same run record ``au.fit`` writes to ``<run>/results/`` (:mod:`au.evaluation.run_record`:
``<split>_metrics.csv``, ``<split>_metrics_at_0.5.csv``, ``<split>_baselines.csv``,
``<split>_predictions.csv``, ``summary.json``, ``report.md``), plus the figures.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from au.data.datamodule import AUDataModule  # noqa: E402
from au.evaluation.occurrence import AUOccurrenceEvaluator  # noqa: E402
from au.evaluation.plots import plot_f1_bars, plot_pr_curves, plot_roc_curves, plot_training_curves  # noqa: E402
from au.evaluation.run_record import (  # noqa: E402
    RESULTS_DIR,
    facts_of_run,
    read_run_record,
    run_facts,
    write_run_record,
)
from au.inference.runtime import build_runtime  # noqa: E402
from au.models.checkpoint import read_checkpoint  # noqa: E402
from au.models.module import AULitModule  # noqa: E402
from au.run.builders import to_dict  # noqa: E402
from au.run.folder import bad_input_stops_run  # noqa: E402


def run_dir_of(ckpt_path: str | Path) -> Path:
    """The run folder of a checkpoint (the parent of its ``checkpoints/`` folder)."""
    path = Path(ckpt_path).expanduser().resolve()
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


OmegaConf.register_new_resolver("au.run_dir", lambda path: str(run_dir_of(path)), replace=True)


def checkpoint_data_settings(ckpt_path: Path) -> dict:
    """The ``data`` settings a checkpoint was trained with.

    Read from the checkpoint (``au.fit`` stores them) or else from the run's
    ``.hydra/config.yaml``.

    Raises:
        ValueError: If neither holds them.
    """
    checkpoint = read_checkpoint(ckpt_path)
    settings = checkpoint.get("datamodule_hyper_parameters", {}).get("data")
    if settings:
        return dict(settings)
    hydra_config = run_dir_of(ckpt_path) / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        return to_dict(OmegaConf.load(hydra_config).data)
    raise ValueError(
        f"{ckpt_path} records no data settings and {hydra_config} does not exist; choose the "
        "data explicitly, e.g. data=synthetic or data=index data.index_csv=PATH"
    )


def training_marks(ckpt_path: Path) -> dict[str, int | None]:
    """The epoch of the checkpoint and the first epoch of stage 2 (if the run reached it)."""
    marks = {"best_epoch": None, "stage2_epoch": None}
    for path in (ckpt_path, ckpt_path.with_name("last.ckpt")):
        if not path.is_file():
            continue
        checkpoint = read_checkpoint(path)
        if marks["best_epoch"] is None:
            marks["best_epoch"] = int(checkpoint["epoch"])
        schedule = checkpoint.get("callbacks", {}).get("TwoStageFineTuning", {})
        if schedule.get("stage") == 2 and schedule.get("stage2_start_epoch"):
            marks["stage2_epoch"] = int(schedule["stage2_start_epoch"])
    return marks


def evaluation_datamodule(config: DictConfig, model: AULitModule, ckpt_path: Path) -> AUDataModule:
    """The checkpoint's data settings, overridden by ``config.data``, with the model's AUs."""
    settings = {**checkpoint_data_settings(ckpt_path), **to_dict(config.get("data"))}
    preprocessing = model.hparams.data_config or {}
    settings.update(aus=model.aus, cache_images=False)
    settings.update({k: preprocessing[k] for k in ("image_size", "channels") if k in preprocessing})
    datamodule = AUDataModule(**settings)
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule


@torch.inference_mode()
def predict_split(model: AULitModule, datamodule: AUDataModule, split: str, runtime=None) -> dict:
    """Logits (N, A), labels (N, A), masks (N, A) and sample ids (N,) of a split, in row order.

    ``runtime`` (:mod:`au.inference.runtime`, e.g. ONNX Runtime) replaces the PyTorch model;
    its probabilities are turned back into logits for the model's decision step.
    """
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {"logits": [], "labels": [], "mask": [], "ids": []}
    for batch in datamodule.loader(split, shuffle=False):
        if runtime is not None:
            probs = torch.from_numpy(runtime(batch["image"].numpy())).double()  # (B, A)
            logits = torch.logit(probs).float()
        else:
            logits = model(batch["image"].to(device)).float().cpu()  # (B, A)
        parts["logits"].append(logits)
        parts["labels"].append(batch["labels"])
        parts["mask"].append(batch["mask"])
        parts["ids"].append(batch["index"])
    return {key: torch.cat(values) for key, values in parts.items()}


def fit_decision_step(
    model: AULitModule, datamodule: AUDataModule, retune: bool, runtime=None
) -> str:
    """Keep the checkpoint's decision step, or re-fit it on the validation subjects."""
    if not retune:
        return "checkpoint (tuned on validation subjects)"
    val = predict_split(model, datamodule, "val", runtime)
    device = model.thresholds.device
    model.fit_decision(val["logits"].to(device), val["labels"].to(device), val["mask"].to(device))
    return "re-tuned on the validation subjects"


def evaluation_facts(model: AULitModule, datamodule: AUDataModule, ckpt_path: Path) -> dict:
    """The run facts of the checkpoint's run, with the data actually evaluated and its params.

    The facts come from the run's record (``results/summary.json``) or saved config, else
    from the checkpoint's own hyperparameters.
    """
    run_dir = run_dir_of(ckpt_path)
    record = run_dir / RESULTS_DIR
    saved = read_run_record(record).facts if record.is_dir() else facts_of_run(run_dir)
    facts = run_facts({"model": dict(model.hparams), "data": {}})
    facts.update({key: value for key, value in saved.items() if value is not None})
    facts.update(data=datamodule.name, fold=datamodule.fold)
    facts["params"] = sum(p.numel() for p in model.parameters())
    return facts


def write_figures(predictions: dict, tables: dict, aus, thresholds, ckpt_path, out_dir) -> None:
    """F1 bars, PR and ROC curves per AU, and the run's training curves when its log exists."""
    probs, labels, mask = predictions["probs"], predictions["labels"], predictions["mask"]
    plot_f1_bars(
        tables["metrics"], tables["metrics_at_0.5"], tables["baselines"], out_dir / "f1_bars.png"
    )
    plot_pr_curves(probs, labels, mask, aus, thresholds, out_dir / "pr_curves.png")
    plot_roc_curves(probs, labels, mask, aus, thresholds, out_dir / "roc_curves.png")
    metrics_csv = run_dir_of(ckpt_path) / "csv" / "metrics.csv"
    if metrics_csv.is_file():
        plot_training_curves(
            metrics_csv, out_dir / "training_curves.png", **training_marks(ckpt_path)
        )


def run_evaluate(config: DictConfig) -> dict:
    """Evaluate ``config.ckpt_path`` as configured; returns the result, tables and folder."""
    if config.split not in ("val", "test"):
        raise ValueError(f"split must be 'test' or 'val', got {config.split!r}")
    ckpt_path = Path(config.ckpt_path).expanduser()
    out_dir = Path(config.paths.output_dir)
    model = AULitModule.load_detector(ckpt_path, map_location=_device(config.device))
    checkpoint_thresholds = model.thresholds.cpu().tolist()
    datamodule = evaluation_datamodule(config, model, ckpt_path)
    runtime = None
    if config.get("runtime", "torch") != "torch":
        runtime = build_runtime(config.runtime, model, ckpt_path, threads=config.get("threads"))
    source = fit_decision_step(model, datamodule, config.retune, runtime)
    evaluator = AUOccurrenceEvaluator.for_model(model, datamodule, config.split)
    evaluator.process(predict_split(model, datamodule, config.split, runtime))
    result = evaluator.evaluate()
    facts = evaluation_facts(model, datamodule, ckpt_path)
    facts.update(checkpoint=str(ckpt_path), threshold_source=source)
    facts["runtime"] = config.get("runtime", "torch")
    if config.retune:
        facts["checkpoint_thresholds"] = checkpoint_thresholds
    text = write_run_record(out_dir, result, facts, split=config.split)
    predictions, thresholds = evaluator.predictions(), evaluator.thresholds
    if config.plots:
        write_figures(predictions, result.tables, model.aus, thresholds, ckpt_path, out_dir)
    print(text + f"\nresults: {out_dir}")
    return dict(result=result, predictions=predictions, thresholds=thresholds, out_dir=out_dir)


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate")
def main(config: DictConfig) -> float:
    """Hydra entry point; returns the average F1 at the decision thresholds."""
    with bad_input_stops_run(config):
        return run_evaluate(config)["result"].score


if __name__ == "__main__":
    main()
