"""au.compare on hand-made run folders (known F1 -> known means, deltas, spreads) and the
ablation grids (every job composes, sweep folders are named after what varies)."""

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import au.run.folder  # noqa: F401 - registers ${au.run_stamp:}, used by the sweep folders
from au.compare import (
    collect_local_runs,
    collect_wandb_runs,
    compare_runs,
    main,
    parse_baseline,
    write_comparison,
)
from au.evaluation.comparison_report import comparison_markdown
from au.run.config import CONFIG_DIR

from .conftest import small_fit_overrides

MOBILE, DENSE = "mobilenetv2_100", "densenet201"

#: (loss, backbone, seed) -> per-AU F1 of AU1, AU2 (the run's average F1 is their mean).
RUNS = {
    ("bce", MOBILE, 0): (0.40, 0.60),  # 0.50
    ("bce", MOBILE, 1): (0.50, 0.70),  # 0.60
    ("lsep", MOBILE, 0): (0.50, 0.66),  # 0.58
    ("lsep", MOBILE, 1): (0.60, 0.68),  # 0.64
    ("bce", DENSE, 0): (0.70, 0.70),  # 0.70, no shared seed with lsep/dense
    ("lsep", DENSE, 1): (0.80, 0.80),  # 0.80
}


def write_fake_run(folder: Path, loss: str, backbone: str, seed: int, f1s, keys_in_summary=True):
    (folder / "results").mkdir(parents=True)
    keys = dict(experiment=loss, loss=loss, backbone=backbone, data="synthetic", fold=1, seed=seed)
    summary = dict(f1=sum(f1s) / len(f1s), params=2_000_000, train_seconds=10.0 + seed)
    summary |= {"f1@0.5": summary["f1"] - 0.1, "roc_auc": 0.8 + 0.01 * seed}
    if keys_in_summary:
        summary |= keys
    else:  # an older run: keys only in Hydra's saved config
        (folder / ".hydra").mkdir()
        config = dict(
            experiment_name=loss,
            seed=seed,
            model=dict(loss=dict(name=loss), backbone=dict(name=backbone)),
            data=dict(name="synthetic", fold=1),
        )
        (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "results" / "summary.json").write_text(json.dumps(summary))
    rows = [dict(au=f"AU{n}", f1=f1) for n, f1 in zip((1, 2), f1s, strict=True)]
    rows.append(dict(au="average", f1=summary["f1"]))
    pd.DataFrame(rows).to_csv(folder / "results" / "test_metrics.csv", index=False)


@pytest.fixture
def fake_runs(tmp_path):
    for i, ((loss, backbone, seed), f1s) in enumerate(RUNS.items()):
        write_fake_run(
            tmp_path / f"{i}-{loss}-{backbone}-seed{seed}", loss, backbone, seed, f1s, i != 1
        )
    return tmp_path


def test_reads_every_run_with_its_keys(fake_runs):
    runs = collect_local_runs([fake_runs])
    assert len(runs) == 6
    old = runs[runs["run"].str.contains("1-bce")].iloc[0]  # keys from .hydra/config.yaml
    assert (old["loss"], old["backbone"], old["seed"], old["fold"]) == ("bce", MOBILE, 1, 1)
    assert old["f1/AU2"] == pytest.approx(0.7) and old["f1"] == pytest.approx(0.6)


def test_keys_fall_back_to_the_csv_hparams(tmp_path):
    run = tmp_path / "run"
    write_fake_run(run, "pr", MOBILE, 0, (0.3, 0.5))
    summary = json.loads((run / "results" / "summary.json").read_text())
    (run / "results" / "summary.json").write_text(json.dumps({"f1": summary["f1"]}))
    (run / "csv").mkdir()
    hparams = dict(loss=dict(name="pr"), backbone=dict(name=MOBILE), data=dict(name="d", fold=2))
    (run / "csv" / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    row = collect_local_runs([tmp_path]).iloc[0]
    assert (row["loss"], row["backbone"], row["data"], row["fold"]) == ("pr", MOBILE, "d", 2)
    assert row["f1"] == pytest.approx(0.4)


def test_means_stds_and_paired_deltas_by_hand(fake_runs):
    table = compare_runs(collect_local_runs([fake_runs]), baseline="bce").set_index(
        ["loss", "backbone"]
    )
    bce, lsep = table.loc[("bce", MOBILE)], table.loc[("lsep", MOBILE)]
    assert (bce["runs"], bce["seeds"]) == (2, "0,1")
    assert bce["f1_mean"] == pytest.approx(0.55) and bce["f1_std"] == pytest.approx(
        math.sqrt(0.005)
    )
    assert lsep["f1_mean"] == pytest.approx(0.61) and lsep["f1_std"] == pytest.approx(
        math.sqrt(0.0018)
    )
    # paired by seed: 0.58-0.50 = 0.08, 0.64-0.60 = 0.04
    assert lsep["delta_mean"] == pytest.approx(0.06) and lsep["delta_std"] == pytest.approx(
        math.sqrt(0.0008)
    )
    assert lsep["pairs"] == 2 and lsep["baseline"] == f"bce / {MOBILE}"
    assert math.isnan(bce["delta_mean"])  # the baseline is not compared with itself
    assert lsep["f1/AU1"] == pytest.approx(0.55) and lsep["f1/AU2"] == pytest.approx(0.67)
    assert lsep["params"] == 2_000_000 and lsep["train_seconds"] == pytest.approx(10.5)
    # densenet: no shared seed -> difference of the means, spread unknown
    dense = table.loc[("lsep", DENSE)]
    assert dense["delta_mean"] == pytest.approx(0.10) and dense["pairs"] == 0
    assert math.isnan(dense["delta_std"]) and math.isnan(dense["f1_std"])


def test_fixed_baseline_across_backbones(fake_runs):
    runs = collect_local_runs([fake_runs])
    table = compare_runs(runs, baseline=f"bce/{MOBILE}").set_index(["loss", "backbone"])
    dense = table.loc[("lsep", DENSE)]  # seed 1 only: 0.80 - 0.60
    assert dense["baseline"] == f"bce / {MOBILE}" and dense["delta_mean"] == pytest.approx(0.20)
    assert parse_baseline("backbone=densenet201", ["loss", "backbone"]) == {"backbone": DENSE}
    with pytest.raises(ValueError, match="names none of the keys"):
        parse_baseline("bce/x/y", ["loss", "backbone"])


def test_group_by_loss_only_pools_backbones(fake_runs):
    table = compare_runs(collect_local_runs([fake_runs]), group_by=["loss"]).set_index("loss")
    assert table.loc["lsep", "runs"] == 3
    assert table.loc["lsep", "f1_mean"] == pytest.approx((0.58 + 0.64 + 0.80) / 3)


def test_group_by_variant_pairs_two_settings_of_one_command(tmp_path):
    """Runs of one command with and without an override pair up by seed; seed/fold overrides
    name the replicate, not the variant."""
    settings = {"default": [], "cosine": ["schedule.stage2_lr_decay=cosine"]}
    f1s = {("default", 0): (0.40, 0.60), ("default", 1): (0.50, 0.50),
           ("cosine", 0): (0.50, 0.70), ("cosine", 1): (0.50, 0.60)}  # fmt: skip
    for (setting, seed), values in f1s.items():
        folder = tmp_path / setting / f"seed{seed}"
        write_fake_run(folder, "bce", MOBILE, seed, values)
        (folder / ".hydra").mkdir()
        overrides = [f"seed={seed}", "data.fold=1", *settings[setting]]
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    write_fake_run(tmp_path / "no_hydra", "bce", MOBILE, 2, (0.1, 0.1))
    runs = collect_local_runs([tmp_path])
    assert sorted(runs["variant"]) == [
        "default", "default", "schedule.stage2_lr_decay=cosine",
        "schedule.stage2_lr_decay=cosine", "unknown",
    ]  # fmt: skip
    table = compare_runs(runs, group_by=["variant"], baseline="default").set_index("variant")
    cosine = table.loc["schedule.stage2_lr_decay=cosine"]
    # seed 0: 0.60 - 0.50, seed 1: 0.55 - 0.50
    assert cosine["pairs"] == 2 and cosine["delta_mean"] == pytest.approx(0.075)
    assert table.loc["unknown", "pairs"] == 0
    assert parse_baseline("schedule.stage2_lr_decay=cosine", ["variant"]) == {
        "variant": "schedule.stage2_lr_decay=cosine"
    }


def test_command_writes_table_csv_and_chart(fake_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("comparison")
    main([str(fake_runs), "--baseline", "bce", "--out", str(out)])
    text = (out / "comparison.md").read_text()
    # no per-subject predictions in these runs: a t interval over the 2 seed pairs,
    # 0.06 ± t(0.975, 1) * sqrt(0.0008) / sqrt(2) = 0.06 ± 0.254
    row = "| lsep   | mobilenetv2_100 | 2      | 0,1     | 61.0 ± 4.2 | +6.0 [-19.4, +31.4] |"
    assert row + " no detectable difference at this sample size" in text
    assert (out / "comparison_f1.png").stat().st_size > 10_000
    assert len(pd.read_csv(out / "runs.csv")) == 6
    assert pd.read_csv(out / "comparison.csv")["f1_mean"].notna().all()


def test_wandb_offline_says_so(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(SystemExit, match="W&B is offline"):
        collect_wandb_runs("someone/au")


# ---- ablation grids -------------------------------------------------------------------------
def sweep_jobs(ablation: str) -> list[list[str]]:
    params = OmegaConf.load(CONFIG_DIR / "ablation" / f"{ablation}.yaml").hydra.sweeper.params
    choices = [
        [f"{key}={value}" for value in str(values).split(",")] for key, values in params.items()
    ]
    return [list(job) for job in itertools.product(*choices)]


def compose_job(ablation: str, job: list[str], num: int):
    overrides = [f"ablation={ablation}", *job, f"hydra.job.num={num}", "paths.output_dir=unused"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="fit", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize(
    ("ablation", "jobs", "varies"),
    [
        ("loss", 8, "model.loss.name"),
        ("backbone", 8, "model.backbone.name"),
        ("schedule", 6, "hydra.runtime.choices.schedule"),
        ("unfreeze", 8, "experiment_name"),
        ("loss_backbone", 16, "model.loss.name"),
    ],
)
def test_every_ablation_job_composes_with_an_informative_folder(ablation, jobs, varies):
    grid = sweep_jobs(ablation)
    assert len(grid) == jobs
    subdirs, settings = set(), set()
    for num, job in enumerate(grid):
        config = compose_job(ablation, job, num)
        assert config.ablation_name == ablation
        assert f"/ablations/{ablation}/" in config.hydra.sweep.dir
        subdir = config.hydra.sweep.subdir
        assert f"-{OmegaConf.select(config, varies)}-" in subdir
        assert subdir.endswith(f"seed{config.seed}")
        subdirs.add(subdir)
        resolved = [OmegaConf.to_yaml(config[k], resolve=True) for k in ("model", "schedule")]
        settings.add("".join(resolved) + f"seed={config.seed}")
    assert len(subdirs) == jobs and len(settings) == jobs


@pytest.mark.parametrize("loss", ["focal", "asl", "zlpr"])
def test_new_losses_are_one_override(loss):
    assert compose_job("loss", [f"loss={loss}"], 0).model.loss.name == loss


@pytest.mark.slow
def test_loss_ablation_runs_then_compares(small_synthetic, tmp_path):
    overrides = [o for o in small_fit_overrides(tmp_path) if not o.startswith("paths.output_dir")]
    sweep = [
        "-m", "ablation=loss", "loss=bce,zlpr", "seed=0", f"hydra.sweep.dir={tmp_path}",
        "schedule.stage1_max_epochs=2", "schedule.stage2_epochs=1",
    ]  # fmt: skip
    command = [sys.executable, "-m", "au.fit", *sweep, *overrides]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    assert sorted(p.name for p in tmp_path.glob("*-seed0")) == [
        "0-bce-test_efficientnet-seed0",
        "1-zlpr-test_efficientnet-seed0",
    ]
    main([str(tmp_path), "--baseline", "bce"])
    table = pd.read_csv(tmp_path / "comparison" / "comparison.csv")
    assert table["loss"].tolist() == ["bce", "zlpr"] and (table["params"] > 0).all()


def test_threshold_free_scores_sit_beside_average_f1(fake_runs):
    table = compare_runs(collect_local_runs([fake_runs]))
    row = table.loc[f"bce / {MOBILE}"]  # seeds 0, 1: ROC-AUC 0.80, 0.81; F1@0.5 0.40, 0.50
    assert row["roc_auc_mean"] == pytest.approx(0.805)
    assert row["roc_auc_std"] == pytest.approx(math.sqrt(0.00005))
    assert row["f1@0.5_mean"] == pytest.approx(0.45)
    text = comparison_markdown(table, ["loss", "backbone"], None)
    header, mobile_bce = text.splitlines()[0], next(r for r in text.splitlines() if MOBILE in r)
    assert "| F1@0.5 " in header and "| ROC-AUC " in header
    assert "45.0 ± 7.1" in mobile_bce and "80.5 ± 0.7" in mobile_bce


def test_loss_cv_grid_is_losses_by_seeds_by_folds_on_stage_one():
    grid = sweep_jobs("loss_cv")
    assert len(grid) == 4 * 3 * 3
    seen = set()
    for num, job in enumerate(grid):
        config = compose_job("loss_cv", job, num)
        assert config.schedule.stage2_epochs == 0 and config.schedule.cache_features
        key = (config.model.loss.name, config.seed, config.data.fold)
        assert f"fold{config.data.fold}-seed{config.seed}" in config.hydra.sweep.subdir
        seen.add(key)
    assert len(seen) == 36
    lsep = compose_job("loss_cv", ["loss=lsep", "seed=0", "data.fold=1"], 0)
    assert lsep.model.decision.name == "auto"  # resolved to frame_threshold for LSEP
    assert "-lsep-auto-fold1-seed0" in lsep.hydra.sweep.subdir


def test_emotion_runs_are_compared_on_their_headline(tmp_path):
    for seed, (a, b) in enumerate(((0.40, 0.50), (0.42, 0.55), (0.38, 0.49))):
        for experiment, score in (("emotion_a", a), ("emotion_b", b)):
            results = tmp_path / f"{experiment}-{seed}" / "results"
            results.mkdir(parents=True)
            summary = dict(task="emotion", experiment=experiment, loss="cross_entropy")
            summary |= dict(data="synthetic", fold=1, seed=seed, macro_f1=score, accuracy=0.7)
            (results / "summary.json").write_text(json.dumps(summary))
    runs = collect_local_runs([tmp_path])
    assert set(runs["score"]) == {"macro_f1"}
    table = compare_runs(runs, group_by=["experiment"], baseline="emotion_a")
    row = table.loc["emotion_b"]
    # paired by seed: +0.10, +0.13, +0.11 -> mean 0.11333, t interval over 3 pairs
    assert row["delta_mean"] == pytest.approx(0.34 / 3) and row["verdict"] == "better"
    assert row["ci"].startswith("t over pairs")


def test_intensity_comparison_is_captioned_with_its_headline_and_t_interval(tmp_path):
    for seed, (a, b) in enumerate(((0.40, 0.50), (0.42, 0.55), (0.38, 0.49))):
        for experiment, icc in (("mse", a), ("ordinal", b)):
            results = tmp_path / f"{experiment}-{seed}" / "results"
            results.mkdir(parents=True)
            summary = dict(task="intensity", experiment=experiment, loss=experiment)
            summary |= dict(data="synthetic", fold=1, seed=seed, icc=icc, mae=0.3)
            (results / "summary.json").write_text(json.dumps(summary))
    runs = collect_local_runs([tmp_path])
    table = compare_runs(runs, group_by=["experiment"], baseline="mse")
    text = write_comparison(runs, table, ["experiment"], tmp_path / "out", baseline="mse")
    assert text.startswith("Test headline score (x100) of 6 runs")
    assert (
        "icc: intensity ICC(3,1)" in text and "(t over pairs (no per-subject predictions))" in text
    )
    assert "| experiment   | runs   | seeds   | score   | headline   |" in text
    assert "| ordinal      | 3      | 0,1,2   | icc     | 51.3 ± 3.2 | +11.3 [" in text
