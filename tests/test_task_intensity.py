"""task=intensity: raw intensities from the index, the task's loss and read-out, the evaluator."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from au.data.index import AUIndex, IndexFormatError
from au.evaluation.intensity import IntensityEvaluator
from au.tasks.intensity import IntensityHead, IntensityTask
from au.tasks.registry import build_task

TABLE = pd.DataFrame(
    {"path": ["a.png", "b.png", "c.png"], "subject": ["s1", "s1", "s2"],
     "AU1": [0.0, 3.0, np.nan], "AU4": [5.0, 2.0, 1.0]}
)  # fmt: skip


def test_intensities_are_raw_codes_with_uncoded_masked():
    index = AUIndex(TABLE, Path("/data"), {"label_type": "intensity", "positive_threshold": 2})
    values, mask = index.intensities(["AU1", "AU4", "AU12"])  # AU12: not in the index
    np.testing.assert_array_equal(values, [[0, 5, 0], [3, 2, 0], [0, 1, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 0], [1, 1, 0], [0, 1, 0]])
    labels, _ = index.labels(["AU1", "AU4", "AU12"])  # occurrence thresholds the same cells
    np.testing.assert_array_equal(labels, [[0, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    "meta, values",
    [({"label_type": "occurrence"}, [0.0, 3.0, 1.0]), ({}, [0.0, 1.0, 1.0])],
)
def test_an_occurrence_index_is_refused_naming_the_file(meta, values):
    table = TABLE.assign(AU1=values, AU4=values)
    with pytest.raises(IndexFormatError, match=r"/data/index.csv codes AU occurrence"):
        AUIndex(table, Path("/data"), meta).intensities(["AU1"])


def test_an_unlabelled_index_with_codes_above_one_is_read_as_intensity():
    values, _ = AUIndex(TABLE, Path("/data"), {}).intensities(["AU4"])
    assert values[:, 0].tolist() == [5, 2, 1]


def test_task_options_choose_head_and_loss():
    assert build_task({"name": "intensity", "loss": "ordinal"}).mode == "ordinal"
    task = build_task({"name": "intensity", "loss": "smooth_l1", "beta": 0.5})
    assert (task.mode, task.loss_fn.kind, task.loss_fn.beta) == ("regression", "smooth_l1", 0.5)
    with pytest.raises(
        ValueError,
        match="task=intensity: task.loss='l1' is not a registered loss; "
        "the intensity losses are mse, ordinal, smooth_l1",
    ):
        build_task({"name": "intensity", "loss": "l1"})
    with pytest.raises(
        ValueError, match="task.loss='bce' trains occurrence; the intensity losses are"
    ):
        build_task({"name": "intensity", "loss": "bce"})


def test_regression_loss_is_masked_and_read_out_clipped_to_the_scale():
    task = IntensityTask("mse")
    outputs = torch.tensor([[1.0, 6.5], [-0.5, 2.0]])
    batch = {"intensity": torch.tensor([[0.0, 5.0], [2.0, 2.0]]),
             "mask": torch.tensor([[1.0, 1.0], [0.0, 1.0]])}  # fmt: skip
    # squared errors 1, 2.25, (6.25 not coded), 0 over 3 coded entries
    assert float(task.loss(None, outputs, batch)) == pytest.approx((1 + 2.25 + 0) / 3)

    class Module:
        head = IntensityHead(4, 2)

    stored = task.stored(Module, outputs, batch)
    assert stored["intensity_estimates"].tolist() == [[1.0, 5.0], [0.0, 2.0]]


def test_ordinal_head_starts_at_the_training_frequencies():
    task = IntensityTask("ordinal")
    head = task.build_head(4, 1, {"dropout": 0.0})
    intensities = torch.tensor([[0.0], [0.0], [1.0], [3.0]])
    head.init_from_prior(intensities, torch.ones(4, 1))
    # a zero score gives P(y > 0) = 2/4, so the first cut-point is -logit(0.5) = 0
    assert float(head.cutpoints().detach()[0, 0]) == pytest.approx(0.0, abs=1e-6)


def test_evaluator_scores_by_hand_beside_the_mean_baseline():
    """Estimates = codes + 1 on coded frames: ICC(3,1) and r are 1, MAE 1; baseline 2 always.

    Baseline MAE |2-1| + |2-2| + |2-3| + |2-5| = 5 over 4 frames; occurrence F1 at 2: all four
    estimates >= 2, three codes >= 2, so F1 = 2*3 / (4 + 3).
    """
    evaluator = IntensityEvaluator(["AU4"], train_mean=torch.tensor([2.0]), positive_threshold=2)
    evaluator.process(
        {
            "intensity_estimates": torch.tensor([[6.0], [2.0], [0.0]]),
            "intensity": torch.tensor([[5.0], [1.0], [4.0]]),
            "mask": torch.tensor([[1.0], [1.0], [0.0]]),
            "ids": torch.tensor([3, 0, 4]),
        }
    )
    evaluator.process({"intensity_estimates": torch.tensor([[3.0], [4.0]]),
                       "intensity": torch.tensor([[2.0], [3.0]]),
                       "mask": torch.ones(2, 1), "ids": torch.tensor([1, 2])})  # fmt: skip
    result = evaluator.evaluate()
    summary = result.summary
    assert summary["icc"] == pytest.approx(1.0) and summary["pcc"] == pytest.approx(1.0)
    assert summary["mae"] == pytest.approx(1.0)
    assert summary["baseline_icc"] == 0.0 and math.isnan(summary["baseline_pcc"])
    assert summary["baseline_mae"] == pytest.approx(5 / 4)
    assert summary["occurrence_f1"] == pytest.approx(6 / 7)
    assert (result.headline, summary["frames"]) == ("icc", 5)
    assert "| AU4 " in result.sections[0] and "mean MAE" in result.sections[0]
