"""F1, thresholds and baselines on hand-made predictions."""

import math

import pytest
import torch

from au.evaluation.occurrence_metrics import (
    baseline_f1,
    f1_table,
    per_au_metrics,
    prevalence,
    select_thresholds,
)


def _known():
    # AU A: 4 positives, 4 negatives. Scores at threshold 0.5: TP=3, FN=1, FP=1, TN=3.
    probs_a = [0.9, 0.8, 0.7, 0.2, 0.6, 0.4, 0.3, 0.1]
    labels_a = [1, 1, 1, 1, 0, 0, 0, 0]
    # AU B: perfectly separable but everything below 0.5 (an uncalibrated, LSEP-like output).
    probs_b = [0.30, 0.28, 0.26, 0.25, 0.10, 0.09, 0.08, 0.07]
    labels_b = [1, 1, 1, 1, 0, 0, 0, 0]
    probs = torch.tensor([probs_a, probs_b], dtype=torch.float64).T
    labels = torch.tensor([labels_a, labels_b], dtype=torch.float64).T
    return probs, labels, torch.ones_like(labels)


def test_per_au_f1_on_a_known_confusion():
    probs, labels, mask = _known()
    table = per_au_metrics(probs, labels, mask, ["AU1", "AU12"], 0.5)
    a, b, average = table.iloc[0], table.iloc[1], table.iloc[2]
    assert (a.precision, a.recall, a.f1) == pytest.approx((0.75, 0.75, 0.75))
    assert b.f1 == 0.0 and b.roc_auc == pytest.approx(1.0) and b.pr_auc == pytest.approx(1.0)
    # ROC-AUC of AU A: of 16 pos/neg pairs, only (0.2 vs 0.6, 0.4, 0.3) are misordered
    assert a.roc_auc == pytest.approx(13 / 16)
    assert average.f1 == pytest.approx(0.375) and a.support == 4 and a.coded == 8
    assert list(table.au) == ["AU1", "AU12", "average"]


def test_select_thresholds_maximises_f1_between_scores():
    probs, labels, mask = _known()
    thresholds, best = select_thresholds(probs, labels, mask)
    assert best.tolist() == pytest.approx([6 / 7, 1.0])
    assert 0.6 < thresholds[0] < 0.7
    assert 0.10 < thresholds[1] < 0.25  # between the lowest positive and the highest negative
    tuned = per_au_metrics(probs, labels, mask, ["AU1", "AU12"], thresholds)
    assert tuned.iloc[1].f1 == 1.0
    assert tuned.iloc[0].f1 == pytest.approx(6 / 7)


def test_all_positive_optimum_near_zero_keeps_threshold_in_range():
    # F1 is best when every frame is called positive and the lowest score is ~0 (a sigmoid of a
    # very negative logit): the threshold goes halfway to 0, never below it.
    probs = torch.tensor([[1e-7], [0.4], [0.9]])
    labels = torch.tensor([[1.0], [1.0], [1.0]])
    thresholds, best = select_thresholds(probs, labels, torch.ones_like(labels))
    assert 0.0 <= float(thresholds[0]) <= 1e-7 and float(best[0]) == 1.0
    table = per_au_metrics(probs, labels, torch.ones_like(labels), ["AU1"], thresholds)
    assert table.iloc[0].f1 == 1.0


def test_masked_labels_do_not_count():
    probs, labels, mask = _known()
    mask[4, 0] = 0  # hide the false positive at 0.6
    table = per_au_metrics(probs, labels, mask, ["AU1", "AU12"], 0.5)
    assert table.iloc[0].precision == 1.0 and table.iloc[0].coded == 7


def test_au_without_positives_has_undefined_f1_and_keeps_default_threshold():
    probs = torch.tensor([[0.2], [0.7]], dtype=torch.float64)
    labels = torch.zeros(2, 1, dtype=torch.float64)
    table = per_au_metrics(probs, labels, torch.ones_like(labels), ["AU9"], 0.5)
    assert math.isnan(table.iloc[0].f1) and math.isnan(table.iloc[0].roc_auc)
    thresholds, best = select_thresholds(probs, labels, torch.ones_like(labels))
    assert thresholds.tolist() == [0.5] and math.isnan(best[0])


def test_baselines_all_positive_and_majority():
    labels = torch.tensor([[1, 1], [0, 1], [0, 1], [0, 0]], dtype=torch.float64)
    mask = torch.ones_like(labels)
    train_prevalence = prevalence(labels, mask)  # 0.25 and 0.75
    table = baseline_f1(labels, mask, train_prevalence)
    # all-positive F1 = 2p / (1 + p): p = 0.25 -> 0.4; p = 0.75 -> 6/7
    assert table.all_positive.tolist()[:2] == pytest.approx([0.4, 6 / 7])
    assert table.majority.tolist()[:2] == pytest.approx([0.0, 6 / 7])
    assert table.all_positive.iloc[2] == pytest.approx((0.4 + 6 / 7) / 2)


def test_f1_table_is_markdown_in_percent():
    probs, labels, mask = _known()
    metrics = per_au_metrics(probs, labels, mask, ["AU1", "AU12"], 0.5)
    baselines = baseline_f1(labels, mask, prevalence(labels, mask))
    text = f1_table(metrics, baselines)
    assert "| AU1 " in text and "75.0" in text and "66.7" in text  # all-positive 2*.5/1.5


def test_bagged_thresholds_are_the_median_of_bootstrap_optima_and_keep_untuned_aus():
    from au.evaluation.occurrence_metrics import bagged_thresholds

    generator = torch.Generator().manual_seed(0)
    labels = torch.zeros(200, 2)
    labels[torch.randperm(200, generator=generator)[:8], 0] = 1  # AU1 never present
    probs = (0.3 * labels + 0.4 * torch.rand(200, 2, generator=generator)).double()
    mask = torch.ones_like(labels)
    bagged, f1 = bagged_thresholds(probs, labels, mask, samples=15, seed=3)
    replay = torch.Generator().manual_seed(3)
    optima = []
    for _ in range(15):
        rows = torch.randint(200, (200,), generator=replay)
        optima.append(float(select_thresholds(probs[rows], labels[rows], mask[rows])[0][0]))
    assert float(bagged[0]) == pytest.approx(float(torch.tensor(optima).median()))
    assert float(bagged[1]) == 0.5 and math.isnan(float(f1[1]))  # untuned: keeps the default
    assert float(f1[0]) == pytest.approx(float(select_thresholds(probs, labels, mask)[1][0]))
