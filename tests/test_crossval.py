"""Cross-validation: mean ± std over folds on hand-made tables, fold discovery, one real run."""

import json
import math

import pandas as pd
import pytest

from au.crossval import aggregate_folds, collect_fold_runs, run_crossval, write_crossval
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


def test_written_tables(tmp_path):
    text = write_crossval(PER_FOLD, tmp_path)
    assert "| AU1  | 50.0    | 60.0    | 70.0    | 60.0 ± 10.0  |" in text
    assert "| AU2  | 20.0    | 40.0    | –       | 30.0 ± 14.1  |" in text
    assert "| Avg. | 35.0    | 50.0    | 70.0    | 51.7 ± 17.6  |" in text
    assert (tmp_path / "crossval_f1.md").read_text() == text
    csv = pd.read_csv(tmp_path / "crossval_f1.csv", index_col="au")
    assert csv.loc["AU1", "mean"] == pytest.approx(0.6)
    summary = json.loads((tmp_path / "crossval_summary.json").read_text())
    assert summary["folds"] == [1, 2, 3] and summary["f1_mean"] == pytest.approx(1.55 / 3)
    assert summary["roc_auc_mean"] == pytest.approx(0.9)


def test_collects_finished_fold_runs(tmp_path):
    for job, fold in enumerate((2, 1, 3)):
        results = tmp_path / f"{job}-lsep-seed0" / "results"
        results.mkdir(parents=True)
        (results / "summary.json").write_text(json.dumps({"fold": fold}))
        PER_FOLD[fold].to_csv(results / "test_metrics.csv", index=False)
    found = collect_fold_runs(tmp_path)
    assert sorted(found) == [1, 2, 3]
    assert found[2]["f1"].tolist()[:2] == [0.6, 0.4]
    (tmp_path / "3-again" / "results").mkdir(parents=True)
    (tmp_path / "3-again" / "results" / "summary.json").write_text(json.dumps({"fold": 1}))
    PER_FOLD[1].to_csv(tmp_path / "3-again" / "results" / "test_metrics.csv", index=False)
    with pytest.raises(ValueError, match="two runs .* fold 1"):
        collect_fold_runs(tmp_path)


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
