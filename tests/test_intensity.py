"""AU intensity: losses, head, metrics (ICC(3,1) on Shrout & Fleiss 1979) and plots."""

import math

import numpy as np
import pytest
import torch

from au.evaluation.intensity_metrics import (
    icc_3_1,
    intensity_metrics,
    intensity_table,
    pearson_r,
    training_mean,
)
from au.evaluation.intensity_plots import plot_intensity_over_time, plot_intensity_scatter
from au.losses.intensity import IntensityRegressionLoss
from au.losses.ordinal import OrdinalIntensityLoss, exceedance_targets, ordinal_decode
from au.tasks.intensity import IntensityHead

OUTPUTS = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
TARGETS = torch.tensor([[0.0, 2.0], [5.0, 4.0]])  # errors 1, 0, -2, 0
MASK = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # the error of 2 is not coded


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# --- regression loss -------------------------------------------------------------------------


def test_mse_by_hand_with_and_without_mask():
    loss = IntensityRegressionLoss("mse")
    assert float(loss(OUTPUTS, TARGETS)) == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert float(loss(OUTPUTS, TARGETS, MASK)) == pytest.approx((1 + 0 + 0) / 3)


def test_smooth_l1_by_hand():
    loss = IntensityRegressionLoss("smooth_l1", beta=1.0)
    # |d| = 1 -> 0.5 (either branch), |d| = 2 -> 2 - 0.5 = 1.5
    assert float(loss(OUTPUTS, TARGETS)) == pytest.approx((0.5 + 0 + 1.5 + 0) / 4)
    assert float(loss(OUTPUTS, TARGETS, MASK)) == pytest.approx(0.5 / 3)
    beta2 = IntensityRegressionLoss("smooth_l1", beta=2.0)  # 0.5 d^2 / beta below beta
    assert float(beta2(OUTPUTS, TARGETS, MASK)) == pytest.approx(0.25 / 3)


def test_masked_entries_get_no_gradient_and_may_hold_placeholders():
    outputs = OUTPUTS.clone().requires_grad_(True)
    targets = TARGETS.clone()
    targets[1, 0] = -1.0  # a placeholder where uncoded: not checked, not counted
    IntensityRegressionLoss()(outputs, targets, MASK).backward()
    assert outputs.grad[1, 0] == 0
    assert outputs.grad[0, 0] == pytest.approx(2 * 1 / 3)  # d/do of (o - t)^2 / 3


def test_bad_targets_and_kind_raise():
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        IntensityRegressionLoss()(OUTPUTS, TARGETS + 1)  # 6 is coded
    with pytest.raises(ValueError, match="loss.kind"):
        IntensityRegressionLoss("l3")


# --- ordinal loss and decode -----------------------------------------------------------------

LEVEL_LOGITS = torch.tensor([2.0, 1.0, 0.0, -1.0, -2.0])  # logits of y > 0, ..., y > 4


def test_exceedance_targets():
    answers = exceedance_targets(torch.tensor([[0.0, 2.0, 5.0]]))
    expected = [[[0, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]]
    assert answers.tolist() == expected


def test_ordinal_loss_by_hand():
    outputs = LEVEL_LOGITS.expand(2, 2, 5)
    targets = torch.tensor([[2.0, 0.0], [1.0, 5.0]])
    # BCE with answer 1 is softplus(-z), with answer 0 softplus(z); summed over the 5 levels
    y2 = softplus(-2) + softplus(-1) + softplus(0) + softplus(-1) + softplus(-2)  # 1,1,0,0,0
    y0 = softplus(2) + softplus(1) + softplus(0) + softplus(-1) + softplus(-2)  # 0,0,0,0,0
    y1 = softplus(-2) + softplus(1) + softplus(0) + softplus(-1) + softplus(-2)  # 1,0,0,0,0
    y5 = softplus(-2) + softplus(-1) + softplus(0) + softplus(1) + softplus(2)  # 1,1,1,1,1
    assert y2 == pytest.approx(1.573527, abs=1e-6) and y0 == pytest.approx(4.573527, abs=1e-6)
    loss = OrdinalIntensityLoss()
    assert float(loss(outputs, targets)) == pytest.approx((y2 + y0 + y1 + y5) / 4)
    masked = loss(outputs, targets, torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    assert float(masked) == pytest.approx((y2 + y0 + y1) / 3)
    assert float(masked) == pytest.approx(2.906860, abs=1e-6)


def test_ordinal_loss_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(B, A, K-1\)"):
        OrdinalIntensityLoss()(torch.zeros(2, 2), torch.zeros(2, 2))


def test_ordinal_decode_by_hand():
    expected, classes = ordinal_decode(LEVEL_LOGITS.expand(1, 1, 5))
    # sigmoid(2, 1, 0, -1, -2) sums to 2.5 by symmetry; only the first two exceed 0.5
    assert float(expected) == pytest.approx(2.5)
    assert int(classes) == 2


def test_ordinal_decode_is_monotone_and_consistent():
    torch.manual_seed(0)
    head = IntensityHead(8, 3, mode="ordinal")
    torch.nn.init.normal_(head.first_cutpoint, std=2)
    torch.nn.init.normal_(head.cutpoint_gaps, std=2)  # negative raw gaps too
    cutpoints = head.cutpoints().detach().double()  # (A, 5)
    assert (cutpoints[:, 1:] > cutpoints[:, :-1]).all()  # ordered whatever the parameters
    scores = torch.linspace(-15, 15, 301, dtype=torch.float64)  # (S,)
    logits = scores[:, None, None] - cutpoints  # (S, A, 5)
    exceed = torch.sigmoid(logits)
    assert (exceed[..., 1:] <= exceed[..., :-1]).all()  # P(y > k) falls with k: rank-consistent
    expected, classes = ordinal_decode(logits)
    assert (expected[1:] > expected[:-1]).all()  # a higher score never means less intensity
    assert (classes[1:] >= classes[:-1]).all()
    assert classes[0].tolist() == [0, 0, 0] and classes[-1].tolist() == [5, 5, 5]
    # the class is the length of the prefix of "yes" answers (no level skipped)
    prefix = (exceed > 0.5).long().cumprod(-1).sum(-1)
    assert torch.equal(prefix, classes)
    assert ((expected >= 0) & (expected <= 5)).all()


# --- head ------------------------------------------------------------------------------------


def test_head_shapes_and_regression_decode():
    features = torch.randn(4, 16)
    regression, ordinal = IntensityHead(16, 3), IntensityHead(16, 3, mode="ordinal")
    assert regression(features).shape == (4, 3)
    assert ordinal(features).shape == (4, 3, 5)
    assert ordinal.fc.bias is None  # the first cut-point is the ordinal read-out's bias
    decoded = regression.decode(torch.tensor([[-1.0, 2.5, 7.0]]))
    assert decoded.tolist() == [[0.0, 2.5, 5.0]]
    with pytest.raises(ValueError, match="mode"):
        IntensityHead(16, 3, mode="classification")


def test_head_starts_at_the_training_prior():
    intensities = torch.tensor([[0.0, 2.0], [0.0, 2.0], [1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    mask = torch.ones_like(intensities)
    mask[4, 0] = 0  # the 5 is not coded: AU0 mean is (0 + 0 + 1 + 3) / 4 = 1
    regression = IntensityHead(6, 2)
    regression.init_from_prior(intensities, mask)
    assert regression.fc.bias.tolist() == pytest.approx([1.0, 2.0])
    ordinal = IntensityHead(6, 2, mode="ordinal")
    ordinal.init_from_prior(intensities, mask)
    at_zero_score = torch.sigmoid(-ordinal.cutpoints().detach())  # P(y > k) for score 0
    # P(y > 1) = P(y > 2) = 0.25: the gap is held at 1e-3 to keep the cut-points ordered
    assert at_zero_score[0, :3].tolist() == pytest.approx([0.5, 0.25, 0.25], abs=3e-4)
    expected, _ = ordinal_decode(-ordinal.cutpoints().detach()[None])
    assert expected[0].tolist() == pytest.approx([1.0, 2.0], abs=2e-3)


# --- metrics ---------------------------------------------------------------------------------

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; their ICC(3,1) is .71
SHROUT_FLEISS = torch.tensor(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
)


def test_icc_on_shrout_fleiss_worked_example():
    icc = icc_3_1(SHROUT_FLEISS)
    assert round(icc, 2) == 0.71
    # from their ANOVA table: BMS = 11.24, EMS = 1.02 -> (BMS - EMS) / (BMS + 3 EMS)
    assert icc == pytest.approx((11.24 - 1.02) / (11.24 + 3 * 1.02), abs=1e-3)


def test_icc_and_pearson_by_hand_on_two_raters():
    x, y = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])
    # two raters: ICC(3,1) = 2 Sxy / (Sxx + Syy) = 2*4 / (2 + 8); r = 4 / sqrt(2*8) = 1
    assert icc_3_1(torch.stack([x, y], 1)) == pytest.approx(0.8)
    assert pearson_r(x, y) == pytest.approx(1.0)
    assert math.isnan(pearson_r(torch.ones(3), y))  # 0/0: undefined
    assert math.isnan(icc_3_1(torch.ones(3, 2)))  # both constant: undefined
    assert icc_3_1(torch.stack([torch.ones(3), y], 1)) == pytest.approx(0.0, abs=1e-12)


def make_metrics():
    estimates = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 5.0], [100.0, 5.0]])
    intensities = torch.tensor([[2.0, 0.0], [4.0, 1.0], [6.0, 5.0], [0.0, 4.0]])
    mask = torch.ones(4, 2)
    mask[3, 0] = 0  # the estimate of 100 is not coded
    return intensity_metrics(estimates, intensities, mask, ["AU1", "AU12"], torch.tensor([1, 2.5]))


def test_intensity_metrics_by_hand_with_mask_and_mean_baseline():
    table = make_metrics().set_index("au")
    au1, au12, average = table.loc["AU1"], table.loc["AU12"], table.loc["average"]
    assert (au1.icc, au1.pearson, au1.mae) == pytest.approx((0.8, 1.0, 2.0))
    assert au1.f1 == pytest.approx(0.8)  # predicted >= 2 on 2 of the 3 present frames
    # AU12: dx = (-2.5, -2.5, 2.5, 2.5), dy = (-2.5, -1.5, 2.5, 1.5): Sxy 20, Sxx 25, Syy 17
    assert au12.icc == pytest.approx(40 / 42)
    assert au12.pearson == pytest.approx(20 / math.sqrt(25 * 17))
    assert (au12.mae, au12.f1) == pytest.approx((0.5, 1.0))
    # the mean baseline: ICC exactly 0, r undefined, MAE and F1 of the constant
    assert (au1.baseline_icc, au12.baseline_icc) == (0.0, 0.0)
    assert math.isnan(au1.baseline_pearson) and math.isnan(average.baseline_pearson)
    assert (au1.baseline_mae, au12.baseline_mae) == pytest.approx((3.0, 2.0))
    assert (au1.baseline_f1, au12.baseline_f1) == pytest.approx((0.0, 4 / 6))  # 1 < 2 <= 2.5
    assert (au1.support, au1.coded, au12.support, au12.coded) == (3, 3, 2, 4)
    assert (average.icc, average.mae, average.f1) == pytest.approx((0.87619, 1.25, 0.9), 1e-5)
    assert (average.support, average.coded) == (5, 7)


def test_intensity_table_marks_undefined_values():
    lines = intensity_table(make_metrics()).splitlines()
    assert "ICC(3,1)" in lines[0] and "mean MAE" in lines[0]
    au1 = [cell.strip() for cell in lines[2].split("|")]
    assert au1[3:11] == ["0.80", "1.00", "2.00", "0.00", "–", "3.00", "80.0", "0.0"]


def test_training_mean_skips_uncoded_labels():
    intensities = torch.tensor([[1.0, 5.0, 0.0], [3.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    means = training_mean(intensities, mask)
    assert means[:2].tolist() == [2.0, 5.0] and math.isnan(means[2])


# --- plots -----------------------------------------------------------------------------------


def test_plots_write_pngs_sized_by_the_aus(tmp_path):
    from matplotlib.image import imread

    rng = np.random.default_rng(0)
    labels = torch.tensor(rng.integers(0, 6, size=(40, 6)), dtype=torch.float32)
    estimates = (labels + torch.tensor(rng.normal(0, 0.5, size=(40, 6)))).float().clamp(0, 5)
    mask = torch.ones_like(labels)
    mask[:, 5] = 0  # an uncoded AU gets a "not coded" panel instead of failing
    aus = ["AU1", "AU2", "AU4", "AU6", "AU12", "AU25"]
    frames = rng.permutation(40)  # unsorted rows are drawn in frame order
    grid = plot_intensity_scatter(estimates, labels, mask, aus, tmp_path / "scatter.png")
    two = plot_intensity_over_time(frames, estimates[:, :2], labels[:, :2], mask[:, :2],
                                   aus[:2], tmp_path / "two.png")  # fmt: skip
    six = plot_intensity_over_time(frames, estimates, labels, mask, aus, tmp_path / "six.png")
    for path in (grid, two, six):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(six).shape[0] > 2 * imread(two).shape[0]  # one row per AU
    assert imread(grid).shape[1] > imread(grid).shape[0]  # 6 AUs: 4 columns, 2 rows


# --- the chain learns ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["regression", "ordinal"])
def test_head_and_loss_learn_a_linear_intensity(mode):
    torch.manual_seed(0)
    features = torch.randn(512, 8)
    latent = features @ torch.randn(8, 2)  # (N, 2): two AUs
    intensities = (latent / latent.std(0) * 1.2 + 1.0).round().clamp(0, 5)  # mostly low codes
    mask = torch.ones_like(intensities)
    train, test = slice(0, 384), slice(384, 512)
    head = IntensityHead(8, 2, mode=mode, dropout=0.0)
    head.init_from_prior(intensities[train], mask[train])
    loss_fn = IntensityRegressionLoss() if mode == "regression" else OrdinalIntensityLoss()
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss_fn(head(features[train]), intensities[train], mask[train]).backward()
        optimizer.step()
    head.eval()
    with torch.no_grad():
        estimates = head.decode(head(features[test]))
    table = intensity_metrics(estimates, intensities[test], mask[test], ["AU1", "AU2"],
                              training_mean(intensities[train], mask[train]))  # fmt: skip
    average = table.set_index("au").loc["average"]
    assert average.icc > 0.8 and average.pearson > 0.8
    assert average.mae < 0.6 * average.baseline_mae
