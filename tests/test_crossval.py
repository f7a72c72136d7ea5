"""Cross-validation: mean ± std over folds on hand-made tables and records, one real run."""

import json
import math

import pandas as pd
import pytest

from au.crossval import (
    _run,
    aggregate_folds,
    collect_fold_runs,
    main,
    run_crossval,
    write_crossval,
    write_fold_scores,
)
from au.errors import RunFolderError
from au.run.config import compose_config

from .conftest import small_fit_overrides


def fold_table(f1_au1: float, f1_au2: float) -> pd.DataFrame:
    """A per_au_metrics-like table: two AUs and the average over the defined ones."""
    values = pd.Series([f1_au1, f1_au2])
    return pd.DataFrame(
        dict(au=["AU1", "AU2", "average"], f1=[f1_au1, f1_au2, values.mean()], roc_auc=0.9)
    )


#: AU2 has no positive in fold 3 (F1 undefined): its mean runs over folds 1 and 2.
PER_FOLD = {1: fold_table(0.5, 0.2), 2: fold_table(0.6, 0.4), 3: fold_table(0.7, float("nan"))}


def test_mean_and_std_over_folds_by_hand():
    table = aggregate_folds(PER_FOLD)
    assert list(table.columns) == ["fold1", "fold2", "fold3", "mean", "std"]
    assert table.loc["AU1", "mean"] == pytest.approx(0.6)
    assert table.loc["AU1", "std"] == pytest.approx(0.1)  # sample std (ddof=1)
    assert table.loc["AU2", "mean"] == pytest.approx(0.3)
    assert table.loc["AU2", "std"] == pytest.approx(math.sqrt(0.02))
    # Avg.F1 per fold: 0.35, 0.50, 0.70 -> mean 0.5167, std 0.1756
    assert table.loc["average", "mean"] == pytest.approx(1.55 / 3)
    assert table.loc["average", "std"] == pytest.approx(pd.Series([0.35, 0.5, 0.7]).std())


def write_record(run_dir, summary: dict, tables: dict[str, pd.DataFrame]):
    """A hand-written fit record: ``run_dir/results/summary.json`` and ``test_<name>.csv``."""
    results = run_dir / "results"
    results.mkdir(parents=True)
    (results / "summary.json").write_text(json.dumps(summary))
    for name, table in tables.items():
        table.to_csv(results / f"test_{name}.csv", index=False)


def test_written_tables(tmp_path):
    text, summary = write_fold_scores(PER_FOLD, tmp_path)
    assert "| AU1  | 50.0    | 60.0    | 70.0    | 60.0 ± 10.0  |" in text
    assert "| AU2  | 20.0    | 40.0    | –       | 30.0 ± 14.1  |" in text
    assert "| Avg. | 35.0    | 50.0    | 70.0    | 51.7 ± 17.6  |" in text
    assert text.startswith("Test F1 (%) per fold and mean ± std over 3 folds (thresholds")
    assert (tmp_path / "crossval_f1.md").read_text() == text
    csv = pd.read_csv(tmp_path / "crossval_f1.csv", index_col="au")
    assert csv.loc["AU1", "mean"] == pytest.approx(0.6)
    assert summary["f1_mean"] == pytest.approx(1.55 / 3)
    assert summary["roc_auc_mean"] == pytest.approx(0.9)
    assert summary["f1_per_au"] == pytest.approx({"AU1": 0.6, "AU2": 0.3})


def test_au_records_write_the_summary(tmp_path):
    for fold, table in PER_FOLD.items():
        write_record(tmp_path / f"fold{fold}", dict(fold=fold, f1=0.5), {"metrics": table})
    write_crossval(collect_fold_runs(tmp_path), tmp_path)
    summary = json.loads((tmp_path / "crossval_summary.json").read_text())
    assert summary["folds"] == [1, 2, 3] and summary["f1_mean"] == pytest.approx(1.55 / 3)
    assert (summary["task"], summary["headline"]) == ("au", "f1")  # no task fact: AU


def intensity_table(icc_au1: float, icc_au2: float, mae: float) -> pd.DataFrame:
    """An intensity_metrics-like table: two AUs and their average."""
    icc = [icc_au1, icc_au2, (icc_au1 + icc_au2) / 2]
    return pd.DataFrame(
        dict(au=["AU1", "AU2", "average"], name="x", icc=icc, pearson=0.5, mae=mae, f1=0.4)
    )


def emotion_table(f1_happy: float, f1_sad: float) -> pd.DataFrame:
    """An emotion_metrics-like table: two classes, no average row (it is the summary's)."""
    return pd.DataFrame(
        {"class": ["happiness", "sadness"], "precision": 0.5, "recall": 0.5,
         "f1": [f1_happy, f1_sad], "support": 10, "auc": [0.8, 0.6]}
    )  # fmt: skip


def test_intensity_folds_are_summarised_on_icc(tmp_path):
    for fold, (a, b, mae) in enumerate([(0.6, 0.2, 0.5), (0.4, 0.0, 0.7)], start=1):
        summary = dict(task="intensity", fold=fold, icc=(a + b) / 2, mae=mae)
        write_record(
            tmp_path / f"fold{fold}", summary, {"intensity_metrics": intensity_table(a, b, mae)}
        )
    headline = _run(compose_config("crossval", [f"summarize={tmp_path}"]))
    assert headline == pytest.approx(0.3)  # mean ICC of the folds' averages 0.4 and 0.2
    table = pd.read_csv(tmp_path / "crossval_icc.csv", index_col="au")
    assert table.loc["AU1", "mean"] == pytest.approx(0.5)
    assert table.loc["average", "std"] == pytest.approx(pd.Series([0.4, 0.2]).std())
    summary = json.loads((tmp_path / "crossval_summary.json").read_text())
    assert (summary["task"], summary["headline"]) == ("intensity", "icc")
    assert summary["mae_mean"] == pytest.approx(0.6) and summary["pearson_mean"] == 0.5
    assert summary["icc_per_au"] == pytest.approx({"AU1": 0.5, "AU2": 0.1})
    text = (tmp_path / "crossval_icc.md").read_text()
    assert "| AU1  | 0.60    | 0.40    | 0.50 ± 0.14  |" in text
    assert not (tmp_path / "crossval_f1.csv").exists()


def test_emotion_folds_are_summarised_on_macro_f1(tmp_path):
    for fold, (happy, sad) in enumerate([(0.8, 0.4), (0.6, 0.2)], start=1):
        summary = dict(task="emotion", fold=fold, macro_f1=(happy + sad) / 2, macro_auc=0.7)
        write_record(
            tmp_path / f"fold{fold}", summary, {"emotion_metrics": emotion_table(happy, sad)}
        )
    headline = _run(compose_config("crossval", [f"summarize={tmp_path}"]))
    assert headline == pytest.approx(0.5)  # macro-F1 0.6 and 0.4
    table = pd.read_csv(tmp_path / "crossval_emotion_f1.csv", index_col="class")
    assert list(table.index) == ["happiness", "sadness", "average"]
    assert table.loc["sadness", "mean"] == pytest.approx(0.3)
    summary = json.loads((tmp_path / "crossval_summary.json").read_text())
    assert (summary["task"], summary["headline"]) == ("emotion", "macro_f1")
    assert summary["macro_f1_std"] == pytest.approx(pd.Series([0.6, 0.4]).std())
    assert summary["macro_auc_mean"] == pytest.approx(0.7)
    assert summary["f1_per_class"] == pytest.approx({"happiness": 0.7, "sadness": 0.3})
    assert (
        "| Avg.      | 60.0    | 40.0    | 50.0 ± 14.1  |"
        in (tmp_path / "crossval_emotion_f1.md").read_text()
    )


def test_joint_folds_write_both_tables_and_mixed_tasks_are_refused(tmp_path):
    for fold in (1, 2):
        summary = dict(task="joint", fold=fold, f1=0.35, macro_f1=0.6, macro_auc=0.7)
        tables = {"metrics": PER_FOLD[fold], "emotion_metrics": emotion_table(0.8, 0.4)}
        write_record(tmp_path / f"fold{fold}", summary, tables)
    assert _run(compose_config("crossval", [f"summarize={tmp_path}"])) == pytest.approx(0.6)
    summary = json.loads((tmp_path / "crossval_summary.json").read_text())
    assert summary["f1_mean"] == pytest.approx(0.425) and summary["macro_f1_mean"] == 0.6
    assert (tmp_path / "crossval_f1.csv").is_file()
    assert (tmp_path / "crossval_emotion_f1.csv").is_file()
    write_record(tmp_path / "fold3", dict(task="au", fold=3), {"metrics": PER_FOLD[3]})
    with pytest.raises(RunFolderError, match=r"mix tasks \['au', 'joint'\]"):
        write_crossval(collect_fold_runs(tmp_path), tmp_path)


def test_collects_finished_fold_runs(tmp_path):
    for job, fold in enumerate((2, 1, 3)):
        results = tmp_path / f"{job}-lsep-seed0" / "results"
        results.mkdir(parents=True)
        (results / "summary.json").write_text(json.dumps({"fold": fold}))
        PER_FOLD[fold].to_csv(results / "test_metrics.csv", index=False)
    found = collect_fold_runs(tmp_path)
    assert sorted(found) == [1, 2, 3]
    assert found[2].metrics["f1"].tolist()[:2] == [0.6, 0.4]
    (tmp_path / "3-again" / "results").mkdir(parents=True)
    (tmp_path / "3-again" / "results" / "summary.json").write_text(json.dumps({"fold": 1}))
    PER_FOLD[1].to_csv(tmp_path / "3-again" / "results" / "test_metrics.csv", index=False)
    with pytest.raises(RunFolderError, match="two runs .* fold 1"):
        collect_fold_runs(tmp_path)


def test_a_folder_without_finished_runs_is_one_error_line(tmp_path, capsys):
    """Before, ``summarize=`` a folder without runs stopped with a traceback and status 1."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as stopped:
        main.__wrapped__(compose_config("crossval", [f"summarize={tmp_path / 'empty'}"]))
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        f"error: no readable finished run (*/results/summary.json) under {tmp_path / 'empty'}\n"
    )


@pytest.mark.slow
def test_two_folds_train_and_aggregate(small_synthetic, tmp_path):
    overrides = small_fit_overrides(
        tmp_path, "folds=[1,2]", "schedule.stage1_max_epochs=2", "schedule.stage2_epochs=1"
    )
    run_crossval(compose_config("crossval", overrides))
    table = pd.read_csv(tmp_path / "crossval_f1.csv", index_col="au")
    assert list(table.columns) == ["fold1", "fold2", "mean", "std"]
    for fold in (1, 2):
        summary = json.loads((tmp_path / f"fold{fold}" / "results" / "summary.json").read_text())
        assert summary["fold"] == fold
        assert table.loc["average", f"fold{fold}"] == pytest.approx(summary["f1"])
    folds = table.loc["average", ["fold1", "fold2"]]
    assert table.loc["average", "mean"] == pytest.approx(folds.mean())


def test_summarize_skips_an_unreadable_run_by_name(tmp_path, capsys):
    import json as _json

    import pandas as _pd

    from au.crossval import collect_fold_runs

    for fold in (1, 2, 3):
        results = tmp_path / f"fold{fold}" / "results"
        results.mkdir(parents=True)
        summary = dict(f1=0.5, fold=fold, loss="bce", seed=0, experiment="bce")
        (results / "summary.json").write_text(_json.dumps(summary))
        _pd.DataFrame([dict(au="AU1", f1=0.5), dict(au="average", f1=0.5)]).to_csv(
            results / "test_metrics.csv", index=False
        )
    (tmp_path / "fold3" / "results" / "summary.json").write_text("{broken")
    with pytest.warns(UserWarning, match=r"skipped run .*fold3"):
        per_fold = collect_fold_runs(tmp_path)
    assert sorted(per_fold) == [1, 2]
    assert "summarising 2 runs (folds [1, 2])" in capsys.readouterr().out
