"""``python -m au.evaluate``: score a trained checkpoint on held-out subjects, with figures.

Any task's checkpoint (``task=au``, ``intensity``, ``emotion``, ``joint``) is scored by its
task's evaluator (:meth:`au.tasks.base.Task.evaluator`), as ``au.fit`` scores it after
training, so both commands write the same metric files for the same checkpoint. The data
settings (data set, fold, AUs) are the checkpoint's own unless overridden.

Examples:
    python -m au.evaluate ckpt_path=logs/fit/runs/lsep-mobilenetv2_100/DATE/checkpoints/best.ckpt
    python -m au.evaluate ckpt_path=... retune=true            # re-tune on validation subjects
    python -m au.evaluate ckpt_path=... +data.data_root=/data  # the data moved
    python -m au.evaluate ckpt_path=... data=index data.index_csv=other/index.csv  # another set

Results go to ``<run>/evaluation/<split>/`` (``paths.output_dir=...`` to change it) as the
same run record ``au.fit`` writes to ``<run>/results/`` (:mod:`au.evaluation.run_record`:
``summary.json``, ``report.md`` and the task's ``<split>_<table>.csv``), plus figures
(``plots=false``: none):

- ``task=au``: per-AU precision, recall, F1, ROC-AUC, PR-AUC and support at the per-AU
  thresholds saved in the checkpoint (tuned on validation subjects; ``retune=true`` re-tunes
  them there) and at 0.5, beside the trivial baselines (``metrics``, ``metrics_at_0.5``,
  ``baselines``, ``predictions``); ``f1_bars.png``, ``pr_curves.png``, ``roc_curves.png``.
- ``task=intensity``: ICC(3,1), PCC and MAE per AU beside the training mean
  (``intensity_metrics``, ``intensity_predictions``); ``intensity_scatter.png``,
  ``intensity_over_time.png``. No decision step: ``retune=true`` is refused.
- ``task=emotion``: accuracy, balanced accuracy, macro-F1 beside the majority class
  (``emotion_summary``, ``emotion_metrics``, ``emotion_confusion``, ``emotion_predictions``);
  ``emotion_confusion.png``, ``emotion_roc.png``. No decision step: ``retune=true`` is refused.
- ``task=joint``: both the AU and the emotion files and figures; the emotion report adds
  the AU head's read-out.

Every task also gets ``training_curves.png`` (loss and the validation headline per epoch)
when the run's ``csv/metrics.csv`` exists. ``runtime=onnx`` evaluates AU-occurrence
checkpoints only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import hydra  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from au.data.datamodule import AUDataModule  # noqa: E402
from au.errors import CheckpointError  # noqa: E402
from au.evaluation.plots import (  # noqa: E402
    plot_f1_bars,
    plot_pr_curves,
    plot_roc_curves,
    plot_training_curves,
)
from au.evaluation.run_record import (  # noqa: E402
    RESULTS_DIR,
    facts_of_run,
    read_run_record,
    run_facts,
    write_run_record,
)
from au.inference.runtime import RUNTIMES, build_runtime  # noqa: E402
from au.models.checkpoint import read_checkpoint  # noqa: E402
from au.models.module import AULitModule, PredictionStore  # noqa: E402
from au.models.preprocessing import checkpoint_normalization  # noqa: E402
from au.run.builders import to_dict  # noqa: E402
from au.run.config_checks import ConfigValueError  # noqa: E402
from au.run.folder import bad_input_stops_run  # noqa: E402
from au.tasks.decision import au_thresholds  # noqa: E402

#: The types of the keys au.evaluate reads itself (configs/evaluate.yaml), checked before any work.
CONFIG_KEYS: dict[str, object] = {
    "ckpt_path": str,
    "split": Literal["test", "val"],
    "retune": bool,
    "device": str,
    "runtime": Literal[RUNTIMES],
    "threads": int | None,
    "plots": bool,
}


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
        CheckpointError: If neither holds them.
    """
    checkpoint = read_checkpoint(ckpt_path)
    settings = checkpoint.get("datamodule_hyper_parameters", {}).get("data")
    if settings:
        return dict(settings)
    hydra_config = run_dir_of(ckpt_path) / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        return to_dict(OmegaConf.load(hydra_config).data)
    raise CheckpointError(
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
    """The checkpoint's data settings, overridden by ``config.data``, with the model's AUs.

    Images are preprocessed as the checkpoint's ``data_config`` says (size, channels, mean and
    std); the data module serves the model's task targets (e.g. ``intensity``, ``emotion``).
    """
    settings = {**checkpoint_data_settings(ckpt_path), **to_dict(config.get("data"))}
    preprocessing = model.hparams.data_config or {}
    settings.update(aus=model.aus, cache_images=False)
    settings.update({k: preprocessing[k] for k in ("image_size", "channels") if k in preprocessing})
    mean, std = checkpoint_normalization(preprocessing, settings.get("channels", 3))
    datamodule = AUDataModule(**settings, task=model.task, mean=mean, std=std)
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule


@torch.inference_mode()
def predict_split(model: AULitModule, datamodule: AUDataModule, split: str, runtime=None) -> dict:
    """What the model's task stores of every sample of a split (each (N, ...)) and ``ids`` (N,).

    The outputs go through ``model.task.stored`` into a
    :class:`~au.models.module.PredictionStore`, as in ``au.fit``'s test loop, so the task's
    evaluator sees the same values (e.g. AU ``logits``, ``labels``, ``mask``; intensity
    estimates; emotion logits), in sample-id order. With AU ``logits`` the probabilities
    ``probs`` (N, A) are added.

    ``runtime`` (:mod:`au.inference.runtime`, e.g. ONNX Runtime; AU occurrence only) replaces
    the PyTorch model; its probabilities are turned back into logits for the decision step.
    """
    device = next(model.parameters()).device
    store = PredictionStore(model.task.stored_keys)
    for batch in datamodule.loader(split, shuffle=False):
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        if runtime is not None:
            probs = torch.from_numpy(runtime(batch["image"].cpu().numpy())).double()  # (B, A)
            outputs = torch.logit(probs).float().to(device)
        else:
            outputs = model.logits(batch)  # task=au: (B, A)
        stored = model.task.stored(model, outputs, batch)
        store.update(batch["index"].cpu(), **{k: v.cpu() for k, v in stored.items()})
    out = store.compute()
    if "logits" in out:
        out["probs"] = torch.sigmoid(out["logits"].double())  # (N, A)
    return out


def fit_decision_step(
    model: AULitModule, datamodule: AUDataModule, retune: bool, runtime=None
) -> str | None:
    """Keep the checkpoint's decision step, or re-fit it on the validation subjects.

    Returns:
        Where the decisions come from (the ``threshold_source`` fact), or ``None`` for a task
        without a decision step (intensity, emotion).

    Raises:
        ConfigValueError: If ``retune`` is asked of a task without a decision step.
    """
    check_retune(retune, model)
    if not model.task.has_decision_step:
        return None
    if not retune:
        return "checkpoint (tuned on validation subjects)"
    model.task.fit_decision(model, predict_split(model, datamodule, "val", runtime))
    return "re-tuned on the validation subjects"


def evaluation_facts(model: AULitModule, datamodule: AUDataModule, ckpt_path: Path) -> dict:
    """The run facts of the checkpoint's run, with the data actually evaluated and its params.

    The facts come from the run's record (``results/summary.json``) or saved config, else
    from the checkpoint's own hyperparameters; ``data``, ``fold`` and ``data_read`` (the index
    folder and the frames of each split) are those of the evaluated data, as a fit records
    them, so ``au.compare`` pairs an evaluation with a fit that read the same data.
    """
    run_dir = run_dir_of(ckpt_path)
    record = run_dir / RESULTS_DIR
    saved = read_run_record(record).facts if record.is_dir() else facts_of_run(run_dir)
    facts = run_facts({"model": dict(model.hparams), "data": {}})
    facts.update({key: value for key, value in saved.items() if value is not None})
    facts.update(data=datamodule.name, fold=datamodule.fold)
    sizes = {split: len(dataset) for split, dataset in datamodule.datasets.items()}
    facts["data_read"] = {"index": str(datamodule.index.root), "frames": sizes}
    facts["params"] = sum(p.numel() for p in model.parameters())
    return facts


def write_figures(model: AULitModule, outputs: dict, tables: dict, ckpt_path, out_dir) -> None:
    """The AU figures (task au, joint) and the run's training curves when its log exists.

    AU figures: F1 bars, PR and ROC curves per AU. The intensity and emotion evaluators draw
    their own figures. The training curves show the task's validation headline.
    """
    if "logits" in outputs:
        probs, labels, mask = outputs["probs"], outputs["labels"], outputs["mask"]
        thresholds = au_thresholds(model).double()
        bars = [tables[name] for name in ("metrics", "metrics_at_0.5", "baselines")]
        plot_f1_bars(*bars, out_dir / "f1_bars.png")
        plot_pr_curves(probs, labels, mask, model.aus, thresholds, out_dir / "pr_curves.png")
        plot_roc_curves(probs, labels, mask, model.aus, thresholds, out_dir / "roc_curves.png")
    metrics_csv = run_dir_of(ckpt_path) / "csv" / "metrics.csv"
    if metrics_csv.is_file():
        marks = training_marks(ckpt_path)
        curves = out_dir / "training_curves.png"
        plot_training_curves(metrics_csv, curves, **marks, score=model.task.headline)


def check_retune(retune: bool, model: AULitModule) -> None:
    """Refuse ``retune=true`` for a task without a decision step (intensity, emotion).

    Raises:
        ConfigValueError: Naming the task.
    """
    if retune and not model.task.has_decision_step:
        raise ConfigValueError(
            f"retune=true: task={model.task.name} has no decision step to re-tune "
            "(only task=au and task=joint tune AU thresholds); drop retune=true"
        )


def check_runtime(name: str, model: AULitModule) -> None:
    """Refuse a runtime other than PyTorch for a task other than AU occurrence.

    Raises:
        ConfigValueError: Naming the task, if ``name`` is not ``torch`` and the task is not
            ``au``.
    """
    if name != "torch" and model.task.name != "au":
        raise ConfigValueError(
            f"runtime={name}: task={model.task.name} checkpoints are evaluated in PyTorch only "
            "(runtime=torch); the exported model serves AU-occurrence (task=au) checkpoints"
        )


def run_evaluate(config: DictConfig) -> dict:
    """Evaluate ``config.ckpt_path`` as configured; returns the result, outputs and folder.

    The returned ``predictions`` are the task's stored outputs (:func:`predict_split`);
    ``thresholds`` are the AU thresholds decided by (``None`` for intensity and emotion).
    """
    if config.split not in ("val", "test"):
        raise ConfigValueError(f"split={config.split!r}: expected one of test, val")
    ckpt_path = Path(config.ckpt_path).expanduser()
    out_dir = Path(config.paths.output_dir)
    model = AULitModule.load_detector(ckpt_path, map_location=_device(config.device))
    runtime_name = config.get("runtime", "torch")
    check_runtime(runtime_name, model)  # the options the checkpoint's task allows, before work
    check_retune(config.retune, model)
    checkpoint_thresholds = au_thresholds(model).tolist()
    datamodule = evaluation_datamodule(config, model, ckpt_path)
    runtime = None
    if runtime_name != "torch":
        runtime = build_runtime(runtime_name, model, ckpt_path, threads=config.get("threads"))
    source = fit_decision_step(model, datamodule, config.retune, runtime)
    figure_dir = out_dir if config.plots else None
    evaluator = model.task.evaluator(model, datamodule, config.split, figure_dir)
    outputs = predict_split(model, datamodule, config.split, runtime)
    evaluator.process(outputs)
    result = evaluator.evaluate()
    facts = evaluation_facts(model, datamodule, ckpt_path)
    facts.update(checkpoint=str(ckpt_path), runtime=runtime_name)
    if source is not None:
        facts["threshold_source"] = source
    if config.retune:
        facts["checkpoint_thresholds"] = checkpoint_thresholds
    text = write_run_record(out_dir, result, facts, split=config.split)
    if config.plots:
        write_figures(model, outputs, result.tables, ckpt_path, out_dir)
    thresholds = au_thresholds(model).double() if source is not None else None
    print(text + f"\nresults: {out_dir}")
    return dict(result=result, predictions=outputs, thresholds=thresholds, out_dir=out_dir)


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate")
def main(config: DictConfig) -> float:
    """Hydra entry point; returns the task's headline score (AU occurrence: average F1)."""
    with bad_input_stops_run(config, CONFIG_KEYS):
        return run_evaluate(config)["result"].score


if __name__ == "__main__":
    main()
