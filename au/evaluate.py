"""``python -m au.evaluate``: score a trained checkpoint on held-out subjects, with figures.

Per-AU precision, recall, F1, ROC-AUC, PR-AUC and support, at the per-AU thresholds saved in
the checkpoint (tuned on validation subjects during training) and at 0.5, beside the trivial
baselines. The data settings (data set, fold, AUs) are the checkpoint's own unless overridden.

Examples:
    python -m au.evaluate ckpt_path=logs/fit/runs/lsep-mobilenetv2_100/DATE/checkpoints/best.ckpt
    python -m au.evaluate ckpt_path=... retune=true            # re-tune on validation subjects
    python -m au.evaluate ckpt_path=... +data.data_root=/data  # the data moved
    python -m au.evaluate ckpt_path=... data=index data.index_csv=other/index.csv  # another set

Results go to ``<run>/evaluation/<split>/`` (``paths.output_dir=...`` to change it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from au.builders import to_dict  # noqa: E402
from au.data.datamodule import AUDataModule  # noqa: E402
from au.inference.runtime import build_runtime  # noqa: E402
from au.metrics import baseline_f1, f1_table, per_au_metrics, select_thresholds  # noqa: E402
from au.models.checkpoint import read_checkpoint  # noqa: E402
from au.models.module import AULitModule  # noqa: E402
from au.plots import plot_f1_bars, plot_pr_curves, plot_roc_curves, plot_training_curves  # noqa: E402
from au.run_folder import bad_input_stops_run  # noqa: E402


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
    """Probabilities (N, A), labels (N, A) and masks (N, A) of a split, in row order.

    ``runtime`` (:mod:`au.inference.runtime`, e.g. ONNX Runtime) replaces the PyTorch model.
    """
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {"probs": [], "labels": [], "mask": []}
    for batch in datamodule.loader(split, shuffle=False):
        if runtime is not None:
            probs = torch.from_numpy(runtime(batch["image"].numpy())).double()  # (B, A)
        else:
            probs = torch.sigmoid(model(batch["image"].to(device)).double()).cpu()  # (B, A)
        parts["probs"].append(probs)
        parts["labels"].append(batch["labels"])
        parts["mask"].append(batch["mask"])
    return {key: torch.cat(values) for key, values in parts.items()}


def decision_thresholds(
    model: AULitModule, datamodule: AUDataModule, retune: bool, runtime=None
) -> tuple[torch.Tensor, str]:
    """The checkpoint's thresholds, or thresholds re-tuned on the validation subjects."""
    if not retune:
        return model.thresholds.double().cpu(), "checkpoint (tuned on validation subjects)"
    val = predict_split(model, datamodule, "val", runtime)
    thresholds, _ = select_thresholds(val["probs"], val["labels"], val["mask"])
    return thresholds.double(), "re-tuned on the validation subjects"


def score(predictions: dict, aus: list[str], thresholds, train_prevalence) -> dict:
    """Metric tables at ``thresholds`` (``tuned``), at 0.5 (``fixed``) and the baselines."""
    probs, labels, mask = predictions["probs"], predictions["labels"], predictions["mask"]
    return {
        "tuned": per_au_metrics(probs, labels, mask, aus, thresholds),
        "fixed": per_au_metrics(probs, labels, mask, aus, 0.5),
        "baselines": baseline_f1(labels, mask, train_prevalence),
    }


def metrics_markdown(tables: dict[str, pd.DataFrame]) -> str:
    """The F1 table beside 0.5 and the baselines, then all metrics at the thresholds."""
    detail = tables["tuned"].drop(columns=["name", "coded"]).copy()
    percent = ["precision", "recall", "f1", "roc_auc", "pr_auc"]
    detail[percent] = (100 * detail[percent]).round(1)
    detail["threshold"] = detail["threshold"].round(3)
    return (
        f1_table(tables["tuned"], tables["baselines"], **{"F1@0.5": tables["fixed"]})
        + "\n\nAll metrics (%) at the decision thresholds:\n\n"
        + detail.to_markdown(index=False, disable_numparse=True)
    )


def write_evaluation(tables: dict, facts: dict, out_dir: Path) -> str:
    """Write metrics CSV/JSON and ``report.md`` into ``out_dir``; return the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables["tuned"].to_csv(out_dir / "metrics.csv", index=False)
    tables["fixed"].to_csv(out_dir / "metrics_at_0.5.csv", index=False)
    tables["baselines"].assign(au=tables["tuned"]["au"]).to_csv(
        out_dir / "baselines.csv", index=False
    )
    average, fixed = tables["tuned"].iloc[-1], tables["fixed"].iloc[-1]
    summary = {
        "f1": average["f1"],
        "f1@0.5": fixed["f1"],
        "roc_auc": average["roc_auc"],
        "pr_auc": average["pr_auc"],
        "all_positive_f1": tables["baselines"].iloc[-1]["all_positive"],
        "thresholds": dict(
            zip(tables["tuned"]["au"][:-1], tables["tuned"]["threshold"][:-1], strict=True)
        ),
        **facts,
    }
    summary = json.loads(pd.Series(summary).to_json())  # NaN -> null, numpy -> python
    for key, table in (("per_au", tables["tuned"]), ("per_au_at_0.5", tables["fixed"])):
        summary[key] = json.loads(table.set_index("au").to_json(orient="index"))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    text = (
        f"Evaluation of {facts['checkpoint']} on the {facts['split']} subjects "
        f"({facts['frames']} frames); thresholds: {facts['threshold_source']}.\n\n"
        + metrics_markdown(tables)
        + "\n"
    )
    (out_dir / "report.md").write_text(text)
    return text


def write_figures(predictions: dict, tables: dict, aus, thresholds, ckpt_path, out_dir) -> None:
    """F1 bars, PR and ROC curves per AU, and the run's training curves when its log exists."""
    probs, labels, mask = predictions["probs"], predictions["labels"], predictions["mask"]
    plot_f1_bars(tables["tuned"], tables["fixed"], tables["baselines"], out_dir / "f1_bars.png")
    plot_pr_curves(probs, labels, mask, aus, thresholds, out_dir / "pr_curves.png")
    plot_roc_curves(probs, labels, mask, aus, thresholds, out_dir / "roc_curves.png")
    metrics_csv = run_dir_of(ckpt_path) / "csv" / "metrics.csv"
    if metrics_csv.is_file():
        plot_training_curves(
            metrics_csv, out_dir / "training_curves.png", **training_marks(ckpt_path)
        )


def run_evaluate(config: DictConfig) -> dict:
    """Evaluate ``config.ckpt_path`` as configured; returns the metric tables and folder."""
    if config.split not in ("val", "test"):
        raise ValueError(f"split must be 'test' or 'val', got {config.split!r}")
    ckpt_path = Path(config.ckpt_path).expanduser()
    out_dir = Path(config.paths.output_dir)
    model = AULitModule.load_detector(ckpt_path, map_location=_device(config.device))
    datamodule = evaluation_datamodule(config, model, ckpt_path)
    runtime = None
    if config.get("runtime", "torch") != "torch":
        runtime = build_runtime(config.runtime, model, ckpt_path, threads=config.get("threads"))
    thresholds, source = decision_thresholds(model, datamodule, config.retune, runtime)
    predictions = predict_split(model, datamodule, config.split, runtime)
    tables = score(predictions, model.aus, thresholds, datamodule.train_prevalence())
    facts = {
        "checkpoint": str(ckpt_path),
        "split": config.split,
        "frames": len(predictions["probs"]),
        "subjects": datamodule.subjects[config.split],
        "threshold_source": source,
        "runtime": config.get("runtime", "torch"),
        "checkpoint_thresholds": model.thresholds.cpu().tolist(),
    }
    text = write_evaluation(tables, facts, out_dir)
    if config.plots:
        write_figures(predictions, tables, model.aus, thresholds, ckpt_path, out_dir)
    print(text + f"\nresults: {out_dir}")
    return {**tables, "predictions": predictions, "thresholds": thresholds, "out_dir": out_dir}


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate")
def main(config: DictConfig) -> float:
    """Hydra entry point; returns the average F1 at the decision thresholds."""
    with bad_input_stops_run(config):
        return float(run_evaluate(config)["tuned"].iloc[-1]["f1"])


if __name__ == "__main__":
    main()
