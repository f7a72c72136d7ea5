"""Paired intervals over test subjects and seeds: counts by hand, known verdicts, scores from
sufficient statistics equal to the project's metrics (calibration: test_interval_calibration)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from au.compare import collect_local_runs, compare_runs, main
from au.evaluation.emotion_metrics import emotion_metrics
from au.evaluation.occurrence_metrics import per_au_metrics
from au.evaluation.paired_bootstrap import (
    NO_DIFFERENCE,
    SubjectCounts,
    average_f1,
    icc_from_moments,
    paired_bootstrap,
)
from au.evaluation.subject_stats import intensity_moments

from .test_compare import write_fake_run


def predictions_table(decisions, labels, subjects) -> pd.DataFrame:
    table = pd.DataFrame({"row": range(len(subjects)), "subject": subjects})
    for j, au in enumerate(("AU1", "AU2")):
        table[f"prob/{au}"] = 0.5
        table[f"decision/{au}"] = np.asarray(decisions)[:, j]
        table[f"label/{au}"] = pd.array(np.asarray(labels, dtype=float)[:, j], dtype="Int64")
    return table


def test_subject_counts_by_hand_with_an_uncoded_label():
    decisions = [[1, 0], [1, 1], [0, 1], [0, 0]]
    labels = [[1, 0], [0, 1], [1, np.nan], [0, 1]]
    counts = SubjectCounts.from_predictions(predictions_table(decisions, labels, list("aabb")))
    assert counts.subjects == ("a", "b") and counts.aus == ("AU1", "AU2")
    # subject a: AU1 TP (row 0) FP (row 1); AU2 TP (row 1)
    # subject b: AU1 FN (row 2); AU2 uncoded (row 2), FN (row 3)
    assert counts.counts.tolist() == [[[1, 1, 0], [1, 0, 0]], [[0, 0, 1], [0, 0, 1]]]
    again = SubjectCounts.from_json(counts.to_json())
    assert again.subjects == counts.subjects and np.array_equal(again.counts, counts.counts)


def test_average_f1_from_counts_equals_per_au_metrics():
    rng = np.random.default_rng(1)
    labels = (rng.random((60, 2)) < 0.3).astype(float)
    probs = rng.random((60, 2))
    decisions = (probs >= 0.5).astype(int)
    counts = SubjectCounts.from_predictions(
        predictions_table(decisions, labels, [f"s{i % 6}" for i in range(60)])
    )
    table = per_au_metrics(
        torch.tensor(probs), torch.tensor(labels), torch.ones(60, 2), ["AU1", "AU2"], 0.5
    )
    assert average_f1(counts.counts.sum(0)) == pytest.approx(table.iloc[-1]["f1"])


def _counts(rng, subjects, quality):
    """Per-subject counts of a detector whose hit rate is ``quality`` (2 AUs)."""
    rows = []
    for _ in range(subjects):
        positives = rng.integers(5, 15, size=2)
        tp = rng.binomial(positives, quality)
        fp = rng.binomial(20, 1 - quality, size=2)
        rows.append(np.stack([tp, fp, positives - tp], axis=1))
    return SubjectCounts(tuple(f"s{i}" for i in range(subjects)), ("AU1", "AU2"), np.array(rows))


def test_identical_runs_give_zero_and_no_difference():
    rng = np.random.default_rng(0)
    runs = [_counts(rng, 10, 0.7) for _ in range(3)]
    result = paired_bootstrap([("fold1", r, r) for r in runs], samples=300)
    assert (result.mean, result.low, result.high) == (0.0, 0.0, 0.0)
    assert result.verdict == NO_DIFFERENCE and result.pairs == 3


def test_a_clearly_better_detector_is_better_and_a_worse_one_worse():
    rng = np.random.default_rng(0)
    good = [_counts(rng, 12, 0.9) for _ in range(3)]
    bad = [SubjectCounts(g.subjects, g.aus, _counts(rng, 12, 0.5).counts) for g in good]
    better = paired_bootstrap([("f", g, b) for g, b in zip(good, bad, strict=True)], 500)
    worse = paired_bootstrap([("f", b, g) for g, b in zip(good, bad, strict=True)], 500)
    assert better.verdict == "better" and better.low > 0.1
    assert worse.verdict == "worse" and worse.high < -0.1
    assert better.per_au["low"].gt(0).all()


def test_pairs_scored_on_other_subjects_are_refused():
    rng = np.random.default_rng(0)
    a, b = _counts(rng, 4, 0.7), _counts(rng, 5, 0.7)
    with pytest.raises(ValueError, match="other subjects"):
        paired_bootstrap([("f", a, b)], samples=10)


def test_compare_gives_intervals_and_verdicts_from_run_predictions(tmp_path, capsys):
    rng = np.random.default_rng(3)
    subjects = [f"s{i}" for i in range(8) for _ in range(30)]
    labels = (rng.random((len(subjects), 2)) < 0.3).astype(float)
    for seed in range(3):
        for loss, flip in (("bce", 0.05), ("pr", 0.35)):  # pr's decisions are much noisier
            folder = tmp_path / f"{loss}-{seed}"
            write_fake_run(folder, loss, "m", seed, (0.5, 0.5))
            noise = rng.random(labels.shape) < flip
            decisions = np.where(noise, 1 - labels, labels).astype(int)
            predictions_table(decisions, labels, subjects).to_csv(
                folder / "results" / "test_predictions.csv", index=False
            )
    runs = collect_local_runs([tmp_path])
    table = compare_runs(runs, baseline="bce").set_index("loss")
    assert table.loc["pr", "verdict"] == "worse" and table.loc["pr", "delta_high"] < 0
    assert table.loc["pr", "ci"].startswith("t (df ") and table.loc["pr", "pairs"] == 3
    assert "test subjects resampled in folds + seed spread" in table.loc["pr", "ci"]
    main([str(tmp_path), "--baseline", "bce", "--out", str(tmp_path / "cmp")])
    assert "compared 6 runs" in capsys.readouterr().out
    deltas = pd.read_csv(tmp_path / "cmp" / "per_au_deltas.csv")
    assert sorted(deltas["au"]) == ["AU1", "AU2"] and (deltas["verdict"] == "worse").all()
    assert (tmp_path / "cmp" / "comparison_deltas.png").stat().st_size > 5_000


def test_an_unreadable_run_is_skipped_with_its_name(tmp_path):
    write_fake_run(tmp_path / "good", "bce", "m", 0, (0.5, 0.5))
    write_fake_run(tmp_path / "bad", "bce", "m", 1, (0.5, 0.5))
    (tmp_path / "bad" / "results" / "summary.json").write_text("{not json")
    with pytest.warns(UserWarning, match=r"skipped run .*bad"):
        runs = collect_local_runs([tmp_path])
    assert len(runs) == 1


def test_t_interval_by_hand():
    from au.evaluation.paired_bootstrap import t_interval

    # mean 2, std 1 over 3 pairs; t(0.975, 2) = 4.3027 -> half width 4.3027 / sqrt(3) = 2.4841
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2.0 - 2.4841, 2.0 + 2.4841), abs=1e-4)
    assert np.isnan(t_interval([0.5])[1])  # one pair: no interval
    assert t_interval([1.0, np.nan, 3.0])[0] == pytest.approx(2.0)  # NaN pairs left out


def test_icc_from_moments_equals_icc_3_1_and_macro_f1_from_counts_equals_emotion_metrics():
    from au.evaluation.intensity_metrics import icc_3_1
    from au.evaluation.paired_bootstrap import class_f1, icc_from_moments
    from au.evaluation.subject_stats import emotion_counts, intensity_moments

    rng = np.random.default_rng(4)
    labels = rng.integers(0, 6, size=50).astype(float)
    estimates = labels + rng.normal(0, 1.0, size=50)
    table = pd.DataFrame({"subject": [f"s{i % 5}" for i in range(50)]})
    table["estimate/AU12"], table["label/AU12"] = estimates, labels
    moments = intensity_moments(table)
    assert moments.counts.shape == (5, 1, 6) and moments.score == "icc"
    expected = icc_3_1(torch.tensor(np.stack([estimates, labels], 1)))
    assert icc_from_moments(moments.counts.sum(0))[0] == pytest.approx(expected, abs=1e-9)
    classes = ["happy", "sad", "angry", "fear"]  # "fear" never true nor predicted: left out
    truth = rng.choice(classes[:3], size=60).tolist()
    answer = [t if rng.random() < 0.6 else "sad" for t in truth]
    frames = pd.DataFrame({"subject": [f"s{i % 4}" for i in range(60)], "label": truth})
    counts = emotion_counts(frames.assign(predicted=answer), classes)
    macro = np.nanmean(class_f1(counts.counts.sum(0)))
    assert macro == pytest.approx(emotion_metrics(truth, answer, classes=classes).macro["f1"])


def test_emotion_and_intensity_differences_resample_test_subjects(tmp_path):
    rng = np.random.default_rng(5)
    classes = ["happy", "sad", "angry"]
    subjects = [f"s{i}" for i in range(10) for _ in range(20)]
    truth = rng.choice(classes, size=len(subjects))
    coded = rng.integers(0, 6, size=len(subjects)).astype(float)
    for seed in range(3):
        for name, right in (("weak", 0.5), ("strong", 0.9)):
            results = tmp_path / f"{name}-{seed}" / "results"
            results.mkdir(parents=True)
            answer = np.where(rng.random(len(truth)) < right, truth, "sad")
            emotions = pd.DataFrame({"row": range(len(truth)), "subject": subjects})
            emotions = emotions.assign(label=truth, predicted=answer)
            emotions.to_csv(results / "test_emotion_predictions.csv", index=False)
            summary = dict(task="emotion", experiment=name, loss="cross_entropy", seed=seed)
            summary |= dict(data="synthetic", fold=1, emotion_classes=classes)
            scored = emotion_metrics(list(truth), list(answer), classes=classes)
            summary["macro_f1"] = float(scored.macro["f1"])
            (results / "summary.json").write_text(json.dumps(summary))
    table = compare_runs(collect_local_runs([tmp_path]), ["experiment"], baseline="weak")
    strong = table.loc["strong"]
    assert strong["ci"].startswith("t (df ") and strong["verdict"] == "better"
    assert strong["delta_mean"] == pytest.approx(
        table.loc["strong", "f1_mean"] - table.loc["weak", "f1_mean"]
    )
    assert list(strong["per_au"].index) == classes
    moments = intensity_moments(
        pd.DataFrame({"subject": subjects, "estimate/AU12": coded, "label/AU12": coded})
    )
    assert icc_from_moments(moments.counts.sum(0))[0] == pytest.approx(1.0)
