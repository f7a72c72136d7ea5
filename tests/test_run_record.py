"""The evaluation core: the AU occurrence evaluator on hand-made predictions, the run record
written and read back, and au.fit / au.evaluate writing identical files for one checkpoint."""

import json
import math

import pandas as pd
import pytest
import torch
import yaml

from au.compare import collect_local_runs, compare_runs
from au.evaluate import run_evaluate
from au.evaluation.comparison_checks import ComparisonError
from au.evaluation.evaluator import EvaluationResult, Evaluator
from au.evaluation.occurrence import AUOccurrenceEvaluator
from au.evaluation.run_record import read_run_record, run_facts, write_run_record
from au.fit import monitored_test_metric
from au.run.config import compose_config

#: 6 frames, 2 AUs; logits 0 = probability 0.5. At threshold 0.5 (AU1) and 0.7 (AU2):
#: AU1 decides 1,1,0,1,0,0 on labels 1,0,0,1,1,0 -> TP 2, FP 1, FN 1: F1 = 4/6.
#: AU2 probabilities .9 .8 .6 .2 .1 .75 -> decides 1,1,0,0,0,1 on labels 1,0,1,0,0,1
#: -> TP 2, FP 1, FN 1: F1 = 4/6. Frame 5's AU2 label is masked out in the second check.
LOGITS_AU1 = [2.0, 1.0, -1.0, 0.5, -2.0, -0.5]
PROBS_AU2 = [0.9, 0.8, 0.6, 0.2, 0.1, 0.75]
LABELS = [[1, 1], [0, 0], [0, 1], [1, 0], [1, 0], [0, 1]]


def hand_outputs(mask_last_au2: bool = False) -> dict[str, torch.Tensor]:
    logits = torch.stack([torch.tensor(LOGITS_AU1), torch.logit(torch.tensor(PROBS_AU2))], 1)
    mask = torch.ones(6, 2)
    if mask_last_au2:
        mask[5, 1] = 0
    return dict(logits=logits, labels=torch.tensor(LABELS).float(), mask=mask, ids=torch.arange(6))


def hand_evaluator(frames=None) -> AUOccurrenceEvaluator:
    thresholds = torch.tensor([0.5, 0.7])
    return AUOccurrenceEvaluator(
        ["AU1", "AU2"],
        decide=lambda logits: torch.sigmoid(logits.double()) >= thresholds.double(),
        thresholds=thresholds,
        train_prevalence=torch.tensor([0.6, 0.2]),
        frames=frames,
    )


def test_evaluator_scores_hand_counted_predictions():
    evaluator = hand_evaluator()
    assert isinstance(evaluator, Evaluator)
    outputs = hand_outputs()
    # two batches, the second first: ids put the rows back in order
    evaluator.process({k: v[3:] for k, v in outputs.items()})
    evaluator.process({k: v[:3] for k, v in outputs.items()})
    result = evaluator.evaluate()
    metrics = result.tables["metrics"].set_index("au")
    assert metrics.loc["AU1", "f1"] == pytest.approx(4 / 6)
    assert metrics.loc["AU2", "f1"] == pytest.approx(4 / 6)
    assert metrics.loc["AU2", "threshold"] == pytest.approx(0.7)
    # at 0.5, AU2 decides 1,1,1,0,0,1: TP 3, FP 1, FN 0 -> F1 6/7
    assert result.tables["metrics_at_0.5"].set_index("au").loc["AU2", "f1"] == pytest.approx(6 / 7)
    # all-positive F1 = 2p/(1+p): AU1 p=1/2 -> 2/3; majority: AU1 common in training -> 2/3
    baselines = result.tables["baselines"].set_index("au")
    assert baselines.loc["AU1", "all_positive"] == pytest.approx(2 / 3)
    assert baselines.loc["AU1", "majority"] == pytest.approx(2 / 3)
    assert baselines.loc["AU2", "majority"] == 0.0
    assert result.score == pytest.approx(4 / 6) and result.summary["frames"] == 6
    evaluator.reset()
    evaluator.process(hand_outputs(mask_last_au2=True))
    masked = evaluator.evaluate().tables["metrics"].set_index("au")
    assert masked.loc["AU2", "f1"] == pytest.approx(0.5)  # TP 1, FP 1, FN 1 -> 2/4


def test_record_is_written_and_read_back(tmp_path):
    frames = pd.DataFrame({"row": [10, 11, 12, 13, 14, 15], "subject": list("aabbcc")})
    evaluator = hand_evaluator(frames)
    evaluator.process(hand_outputs())
    facts = dict(experiment="bce", loss="bce", decision="auto", backbone="tiny", data="synthetic")
    facts |= dict(fold=2, seed=7, ablation=None, params=123, train_seconds=4.5)
    text = write_run_record(tmp_path, evaluator.evaluate(), facts, split="test")
    assert text.startswith("Results on the test subjects of experiment=bce, loss=bce")
    record = read_run_record(tmp_path)
    assert record.facts["fold"] == 2 and record.facts["params"] == 123
    assert record.summary["decision"] == "per_au"  # the evaluator's resolved step wins
    assert record.summary["thresholds"] == {"AU1": 0.5, "AU2": pytest.approx(0.7)}
    assert record.metrics.set_index("au").loc["AU1", "f1"] == pytest.approx(4 / 6)
    predictions = record.table("predictions")
    assert predictions["subject"].tolist() == list("aabbcc")
    assert predictions["decision/AU2"].tolist() == [1, 1, 0, 0, 0, 1]


def test_missing_facts_come_from_the_saved_config_and_nan_is_null(tmp_path):
    (tmp_path / ".hydra").mkdir()
    config = dict(experiment_name="pr", seed=3, model=dict(loss=dict(name="pr")))
    config["data"] = dict(name="disfa", fold=3)
    (tmp_path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    result = EvaluationResult("f1", {"f1": float("nan")}, {"metrics": pd.DataFrame({"au": []})})
    write_run_record(tmp_path / "results", result, {})
    assert json.loads((tmp_path / "results" / "summary.json").read_text())["f1"] is None
    facts = read_run_record(tmp_path / "results").facts
    assert (facts["loss"], facts["data"], facts["fold"], facts["seed"]) == ("pr", "disfa", 3, 3)
    assert run_facts(config)["experiment"] == "pr"
    assert facts["task"] == "au"  # a record from before tasks: AU occurrence


@pytest.mark.parametrize(
    ("overrides", "task", "loss", "decision", "monitored"),
    [
        ([], "au", "bce", "auto", "test/f1"),
        (["loss=lsep", "decision=per_au"], "au", "lsep", "per_au", "test/f1"),
        (["experiment=pr"], "au", "pr", "auto", "test/f1"),  # eq. (6): the micro default
        (["experiment=pr", "model.loss.average=macro"], "au", "pr(average=macro)", "auto",
         "test/f1"),  # the per-AU form is another loss for a comparison
        (["task=intensity"], "intensity", "mse", None, "test/icc"),
        (["task=intensity", "task.loss=ordinal", "loss=lsep"], "intensity", "ordinal", None,
         "test/icc"),
        (["task=emotion", "loss=pr"], "emotion", "cross_entropy", None, "test/macro_f1"),
        (["task=joint", "loss=lsep"], "joint", "lsep+cross_entropy", "auto", "test/macro_f1"),
    ],
)  # fmt: skip
def test_run_facts_name_the_task_and_the_loss_it_trains_with(
    overrides, task, loss, decision, monitored, tmp_path
):
    """model.loss / model.decision count only where the task uses them; fit returns the
    task's headline test score to a sweeper."""
    config = compose_config("fit", [*overrides, f"paths.output_dir={tmp_path}"])
    facts = run_facts(config)
    assert (facts["task"], facts["loss"], facts["decision"]) == (task, loss, decision)
    assert monitored_test_metric(config) == monitored


def test_run_facts_from_a_checkpoints_hyperparameters():
    """au.evaluate rebuilds facts from the module's hparams (``task`` sits beside ``loss``)."""
    hparams = dict(loss=dict(name="bce"), decision=dict(name="auto"), backbone=dict(name="tiny"))
    facts = run_facts({"model": {**hparams, "task": dict(name="intensity", loss="ordinal")}})
    assert (facts["task"], facts["loss"], facts["decision"]) == ("intensity", "ordinal", None)
    assert run_facts({"model": {**hparams, "task": None}})["task"] == "au"


def write_record(folder, facts: dict, f1: float) -> None:
    """A finished run's record with an AU metrics table (AU1, AU2 at ``f1``)."""
    (folder / "results").mkdir(parents=True)
    summary = dict(f1=f1, fold=1, data="synthetic", backbone="tiny", **facts)
    (folder / "results" / "summary.json").write_text(json.dumps(summary))
    table = pd.DataFrame({"au": ["AU1", "AU2", "average"], "f1": [f1, f1, f1]})
    table.to_csv(folder / "results" / "test_metrics.csv", index=False)


def test_compare_keeps_tasks_apart(tmp_path):
    """An AU run and a joint run trained with the same AU loss are two groups of au.compare,
    and neither is subtracted from the other."""
    for seed in (0, 1):
        au_facts = dict(task="au", loss="bce", decision="auto", seed=seed)
        joint_facts = dict(task="joint", loss="bce+cross_entropy", decision="auto", seed=seed)
        write_record(tmp_path / f"au-{seed}", au_facts, 0.5 + 0.1 * seed)
        write_record(tmp_path / f"joint-{seed}", joint_facts, 0.3 + 0.1 * seed)
    runs = collect_local_runs([tmp_path])
    assert sorted(runs["task"]) == ["au", "au", "joint", "joint"]
    with pytest.raises(ComparisonError, match="cannot subtract 'au' from 'joint': task differs"):
        compare_runs(runs, group_by=["task"], baseline="au")
    table = compare_runs(runs, group_by=["task"]).set_index("task")
    assert table.loc["au", "f1_mean"] == pytest.approx(0.55)
    assert table.loc["joint", "f1_mean"] == pytest.approx(0.35)
    assert table.loc["joint", "runs"] == 2


@pytest.mark.slow
def test_fit_and_evaluate_write_identical_metric_files(tiny_run, tmp_path):
    """One checkpoint, two commands: the same tables byte for byte, the same scores."""
    ckpt = tiny_run / "checkpoints" / "best.ckpt"
    overrides = [f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path}", "plots=false"]
    run_evaluate(compose_config("evaluate", [*overrides, "device=cpu"]))
    fit_dir = tiny_run / "results"
    for name in ("metrics", "metrics_at_0.5", "baselines", "predictions"):
        fitted, evaluated = fit_dir / f"test_{name}.csv", tmp_path / f"test_{name}.csv"
        assert fitted.read_bytes() == evaluated.read_bytes(), name
    fitted, evaluated = read_run_record(fit_dir), read_run_record(tmp_path)
    for key in ("f1", "f1@0.5", "roc_auc", "all_positive_f1", "thresholds", "subjects"):
        assert fitted.summary[key] == evaluated.summary[key], key
    for key in ("loss", "backbone", "data", "fold", "seed", "params"):
        assert fitted.facts[key] == evaluated.facts[key], key
    assert not math.isnan(fitted.summary["f1"])


def test_condition_table_counts_frames_subjects_and_f1_by_hand():
    """20 clean frames of two subjects and 20 dark frames of one; one AU, decisions given."""
    from au.evaluation.occurrence_report import condition_table

    clean = dict(low_light=0, roll=0.0, yaw=0.0, occlusion="none", glasses="none")
    frames = pd.DataFrame(
        [{**clean, "subject": "S1" if i < 10 else "S2"} for i in range(20)]
        + [{**clean, "low_light": 1, "subject": "S3"} for _ in range(20)]
    )
    labels = torch.tensor([1.0] * 10 + [0.0] * 10 + [1.0] * 20).unsqueeze(1)
    # clean: 10 positives, 5 found, no false positive -> F1 2*5 / (2*5 + 5) = 2/3
    # dark: 20 positives, all 20 found -> F1 1
    decisions = torch.tensor([1] * 5 + [0] * 15 + [1] * 20).unsqueeze(1)
    values = {"probs": decisions.float(), "labels": labels, "mask": torch.ones_like(labels)}
    table = condition_table(frames, ["AU12"], values, decisions).set_index("condition")
    assert table.loc["clean", ["frames", "subjects"]].tolist() == [20, 2]
    assert table.loc["low light", ["frames", "subjects"]].tolist() == [20, 1]
    assert table.loc["clean", "f1"] == pytest.approx(2 / 3)
    assert table.loc["low light", "f1"] == pytest.approx(1.0)
    assert list(table.index) == ["clean", "low light"]  # no rotated, glasses or occluded frame
