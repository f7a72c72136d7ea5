"""AU -> emotion mapping: prototypes, scores on hand-made AU vectors, coverage statements."""

import numpy as np
import pytest
import torch

from au.aus import DISFA_AUS, DISFA_DETECTION_AUS, parse_au
from au.data.synthetic.episodes import sample_subject_timeline, stratified_kind_draws
from au.emotions import EMOTIONS, parse_emotion
from au.emotions.readout import (
    PROTOTYPES,
    RULES,
    Prototype,
    emotion_coverage,
    emotion_scores,
    format_coverage,
    predict_emotion,
)
from au.evaluation.emotion_metrics import emotion_metrics, majority_baseline

DISFA8 = list(DISFA_DETECTION_AUS)  # 1, 2, 4, 6, 9, 12, 25, 26
DISFA12 = list(DISFA_AUS)  # 1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26


def au_vector(aus: list[str], high: tuple[int, ...], low: float = 0.05) -> np.ndarray:
    """Probability `low` for every AU, 0.9 for the AUs in `high`."""
    probs = np.full(len(aus), low)
    for number in high:
        probs[aus.index(parse_au(number))] = 0.9
    return probs


def scores_of(aus: list[str], high: tuple[int, ...]) -> dict[str, float]:
    return dict(zip(EMOTIONS, emotion_scores(au_vector(aus, high), aus), strict=True))


def test_canonical_prototypes_are_the_facs_ones():
    canonical = {name: protos[0].code for name, protos in PROTOTYPES.items()}
    assert canonical == {
        "happiness": "6+12",
        "sadness": "1+4+15",
        "surprise": "1+2+5B+26",
        "fear": "1+2+4+5+7+20+26",
        "anger": "4+5+7+23",
        "disgust": "9+15+16",
        "contempt": "R12A+R14A",
    }
    contempt = PROTOTYPES["contempt"][0]
    assert dict(contempt.weights) == {"AU12": 0.5, "AU14": 1.0}
    assert set(PROTOTYPES["surprise"][0].weights) == {"AU1", "AU2", "AU5", "AU26"}


def test_prototype_parse_rejects_bad_tokens():
    with pytest.raises(ValueError, match="bad FACS token 'X12'"):
        Prototype.parse("X12+4")


def test_parse_emotion_synonyms():
    assert [parse_emotion(n) for n in ("Happy", "ANGRY", "sad", "Surprised", "fearful")] == [
        "happiness",
        "anger",
        "sadness",
        "surprise",
        "fear",
    ]
    with pytest.raises(ValueError, match="unknown emotion 'bored'.*happy"):
        parse_emotion("bored")


def test_smile_scores_happiness_by_hand():
    scores = scores_of(DISFA8, (6, 12))
    # happiness 6+12 (25, 26 optional): (0.9 + 0.9) / (2 + p1 + p2 + p4 + p9) = 1.8 / 2.2
    assert scores["happiness"] == pytest.approx(9 / 11)
    assert scores["neutral"] == pytest.approx(2 / 11)
    # sadness 1+4+15 on DISFA-8 keeps 1, 4: 0.1 / (2 + p2 + p6 + p9 + p12 + p25 + p26 = 2.0)
    assert scores["sadness"] == pytest.approx(0.1 / 4.0)
    assert max(scores, key=scores.get) == "happiness"


def test_surprise_fear_and_neutral():
    surprise = scores_of(DISFA12, (1, 2, 5, 26))
    # 1+2+5B+26 (25 optional): 3.6 / (4 + p4 + p6 + p9 + p12 + p15 + p17 + p20 = 0.35)
    assert surprise["surprise"] == pytest.approx(3.6 / 4.35)
    assert max(surprise, key=surprise.get) == "surprise"
    fear = scores_of(DISFA12, (1, 2, 4, 5, 20, 26))
    assert fear["fear"] > 0.8 > fear["surprise"]  # the superset wins when AU4, AU20 are on
    assert predict_emotion(au_vector(DISFA12, ()), DISFA12).item() == "neutral"
    assert predict_emotion(au_vector(DISFA12, (4, 5)), DISFA12).item() == "anger"
    assert predict_emotion(au_vector(DISFA12, (9, 15)), DISFA12).item() == "disgust"
    assert predict_emotion(au_vector(DISFA12, (1, 4, 15)), DISFA12).item() == "sadness"


def test_unexpressible_emotions_are_nan_and_never_predicted():
    probs = au_vector(DISFA8, (4,), low=0.0)  # only brow lowerer, the one anger AU DISFA-8 has
    scores = scores_of(DISFA8, (4,))
    assert np.isnan([scores["anger"], scores["disgust"], scores["contempt"]]).all()
    assert predict_emotion(probs, DISFA8).item() != "anger"
    loose = emotion_scores(probs, DISFA8, ["anger", "neutral"], min_coverage=0.0)
    assert loose.tolist() == pytest.approx([0.9, 0.1])  # 0.9 / (1 + 0)
    brows = emotion_scores(np.array([0.9, 0.9]), ["AU1", "AU2"], ["happiness"], min_coverage=0)
    assert np.isnan(brows).all()  # no happiness AU at all: NaN even at min_coverage=0
    with pytest.raises(ValueError, match="none of"):
        predict_emotion(probs, DISFA8, ["anger", "disgust"])


def test_batched_numpy_and_torch_inputs():
    batch = np.stack([au_vector(DISFA8, (6, 12)), au_vector(DISFA8, (1, 2, 26))])  # (2, 8)
    labels = predict_emotion(batch.reshape(1, 2, 8), DISFA8)
    assert labels.shape == (1, 2) and labels.tolist() == [["happiness", "surprise"]]
    tensor = torch.tensor(batch, dtype=torch.float32, requires_grad=True)
    scores = emotion_scores(tensor, DISFA8)
    assert isinstance(scores, torch.Tensor) and scores.shape == (2, len(EMOTIONS))
    scores[0, 1].backward()  # happiness is differentiable in the AU probabilities
    assert tensor.grad[0, DISFA8.index("AU12")] > 0
    assert np.allclose(scores.detach().numpy(), emotion_scores(batch, DISFA8), equal_nan=True)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 8\)"):
        emotion_scores(np.zeros((2, 7)), DISFA8)
    with pytest.raises(ValueError, match="sigmoid"):
        emotion_scores(np.full(8, 3.0), DISFA8)


def test_coverage_with_disfa_detection_aus():
    table = emotion_coverage(DISFA8).set_index("emotion")
    assert "neutral" not in table.index
    assert table.loc["happiness", "verdict"] == "expressible"
    anger, disgust = table.loc["anger"], table.loc["disgust"]
    assert (anger["verdict"], disgust["verdict"]) == ("barely covered", "barely covered")
    assert (anger["has"], anger["lacks"]) == (["AU4"], ["AU5", "AU7", "AU23"])
    assert (disgust["has"], disgust["lacks"]) == (["AU9"], ["AU15", "AU16"])
    assert anger["coverage"] == pytest.approx(0.25) and not anger["scored"]
    assert table.loc["sadness", "lacks"] == ["AU15"]
    assert table.loc["fear", "prototype"] == "1+2+4+5+20+26"  # the IG variant covers more
    assert table.loc["fear", "canonical_coverage"] == pytest.approx(4 / 7)
    text = format_coverage(DISFA8)
    assert text.startswith("With 8 AUs (1, 2, 4, 6, 9, 12, 25, 26):")
    assert "anger: barely covered: keeps only AU4 of 4+5+7+23 (1 of 4 AUs" in text
    assert "disgust: barely covered: keeps only AU9 of 9+15+16 (1 of 3 AUs" in text


def test_coverage_with_all_disfa_aus():
    table = emotion_coverage(DISFA12).set_index("emotion")
    assert table["verdict"].to_dict() == {
        "happiness": "expressible",
        "sadness": "expressible",
        "surprise": "expressible",
        "fear": "expressible",
        "anger": "partial",
        "disgust": "partial",
        "contempt": "barely covered",
    }
    assert table.loc["anger", "lacks"] == ["AU7", "AU23"]
    assert table.loc["contempt", "lacks"] == ["AU14"]


# ---- rule="calibrated": evidence relative to each AU's tuned threshold ----------------------


def test_calibrated_scores_by_hand():
    aus, names = ["AU6", "AU12", "AU4"], ["neutral", "happiness", "anger", "sadness"]
    probs, thresholds = np.array([0.5, 0.5, 0.2]), np.array([0.5, 0.2, 0.5])
    # evidence: e6 = 0, e12 = logit(.5) - logit(.2) = ln 4, e4 = -ln 4
    # happiness 6+12: (0 + ln4) / 2 = ln2; anger 4+5+7+23: (e4 - relu(e6) - relu(e12)) / 4 = -ln2
    # sadness: best of 1+4+15 (-2ln4/3) and 1+4+11+15B (-2ln4/4 = -ln2); neutral: -max e = -2ln2
    # softmax of (-2ln2, ln2, -ln2, -ln2) = (1/4, 2, 1/2, 1/2) / 3.25
    scores = emotion_scores(probs, aus, names, rule="calibrated", thresholds=thresholds)
    assert scores.tolist() == pytest.approx([1 / 13, 8 / 13, 2 / 13, 2 / 13])
    # the same AU12 = 0.5 is "absent" for the old rule (p not relative to its threshold 0.2)
    assert predict_emotion(probs, aus, names).item() == "neutral"
    assert (
        predict_emotion(probs, aus, names, rule="calibrated", thresholds=thresholds) == "happiness"
    )


def test_calibrated_neutral_competes_and_lips_part_is_not_an_expression():
    thresholds = np.full(8, 0.3)
    calm = au_vector(DISFA8, (), low=0.1)
    scores = dict(
        zip(
            EMOTIONS,
            emotion_scores(calm, DISFA8, rule="calibrated", thresholds=thresholds),
            strict=True,
        )
    )
    assert max(scores, key=scores.get) == "neutral" and scores["neutral"] > 0.5
    lips = au_vector(DISFA8, (25,), low=0.1)  # AU25 is optional in every prototype
    assert predict_emotion(lips, DISFA8, rule="calibrated", thresholds=thresholds) == "neutral"
    smile = au_vector(DISFA8, (12,), low=0.1)  # a strong AU12 alone is a smile, not neutral
    assert predict_emotion(smile, DISFA8, rule="calibrated", thresholds=thresholds) == "happiness"
    assert predict_emotion(smile, DISFA8) == "neutral"  # old: happiness 1 / 2.4 < neutral
    frown_and_brows = au_vector(DISFA8, (1, 4), low=0.1)
    assert predict_emotion(frown_and_brows, DISFA8, rule="calibrated") == "sadness"
    fear = au_vector(DISFA8, (1, 2, 4, 26), low=0.1)
    surprise = au_vector(DISFA8, (1, 2, 26), low=0.1)
    assert predict_emotion(np.stack([fear, surprise]), DISFA8, rule="calibrated").tolist() == [
        "fear",
        "surprise",
    ]


def test_calibrated_is_invariant_to_per_au_shifts_of_the_detector():
    rng = np.random.default_rng(0)
    logits, shift = rng.normal(0, 1.5, (50, 8)), rng.normal(0, 1.0, 8)
    thresholds = 1 / (1 + np.exp(-rng.normal(0, 0.5, 8)))
    cut = np.log(thresholds / (1 - thresholds))
    before = emotion_scores(
        1 / (1 + np.exp(-logits)), DISFA8, rule="calibrated", thresholds=thresholds
    )
    shifted = 1 / (1 + np.exp(-(logits + shift)))
    after = emotion_scores(
        shifted, DISFA8, rule="calibrated", thresholds=1 / (1 + np.exp(-(cut + shift)))
    )
    assert np.allclose(before, after, atol=1e-6, equal_nan=True)  # only p relative to t counts
    old_before = predict_emotion(1 / (1 + np.exp(-logits)), DISFA8)
    assert (old_before != predict_emotion(shifted, DISFA8)).any()  # the old rule is not


def test_calibrated_carriers_and_contempt_needs_au14():
    table = emotion_coverage(DISFA8).set_index("emotion")
    assert table.loc["happiness", "carried_by"] == ["AU6", "AU12"]
    assert table.loc["anger", "carried_by"] == ["AU4"] and table.loc["disgust", "carried_by"] == [
        "AU9"
    ]
    assert table.loc["contempt", "carried_by"] == []  # AU12 (weight 0.5) only supports it
    scores = emotion_scores(au_vector(DISFA8, (12,)), DISFA8, rule="calibrated")
    assert np.isnan(scores[EMOTIONS.index("contempt")]) and np.nansum(scores) == pytest.approx(1)
    with_14 = [*DISFA8, "AU14"]
    half_smile = au_vector(with_14, (12, 14))
    assert predict_emotion(half_smile, with_14, rule="calibrated") == "contempt"
    with pytest.raises(ValueError, match="unknown emotion rule 'v3'"):
        emotion_scores(half_smile, with_14, rule="v3")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        emotion_scores(half_smile, with_14, rule="calibrated", thresholds=1.0)


# ---- the calibrated rule beats the old one on the synthetic set's emotion labels -------------


def synthetic_frames(seed: int, subjects: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """True AU intensities (N, 12) and emotion labels (N,) of synthetic videos (not rendered)."""
    draws = stratified_kind_draws(seed, subjects, frames)
    plans = [
        sample_subject_timeline(np.random.default_rng([seed, 7, s]), frames, draws[s])
        for s in range(subjects)
    ]
    return np.concatenate([p.intensities for p in plans]), np.concatenate(
        [p.emotions for p in plans]
    )


def simulated_detector(intensities, rng, prior=None):
    """A detector's probabilities for DISFA-8: logit = 2 (I - 1.5) + 0.5 logit(prior) + N(0, 1).

    The shrink towards each AU's training prior makes rare AUs' sigmoid outputs low, as a BCE
    detector's are, so their tuned thresholds differ from 0.5.
    """
    columns = [list(DISFA_AUS).index(a) for a in DISFA8]
    values = intensities[:, columns]  # (N, 8)
    labels = np.floor(values + 0.5) >= 2  # coded intensity >= 2: present
    prior = labels.mean(0).clip(0.01, 0.99) if prior is None else prior
    logits = 2 * (values - 1.5) + 0.5 * np.log(prior / (1 - prior)) + rng.normal(0, 1, values.shape)
    return 1 / (1 + np.exp(-logits)), labels, prior


def f1_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-AU threshold maximising F1 over the 1st..99th percentiles (validation tuning)."""
    thresholds = np.full(probs.shape[1], 0.5)
    for j in range(probs.shape[1]):
        cuts = np.quantile(probs[:, j], np.linspace(0.01, 0.99, 99))
        f1 = [
            2
            * (labels[:, j] & (probs[:, j] >= c)).sum()
            / ((probs[:, j] >= c).sum() + labels[:, j].sum())
            for c in cuts
        ]
        thresholds[j] = cuts[int(np.argmax(f1))]
    return thresholds


@pytest.fixture(scope="module")
def synthetic_readouts():
    rng = np.random.default_rng(0)
    val_probs, val_labels, prior = simulated_detector(synthetic_frames(100, 12, 300)[0], rng)
    thresholds = f1_thresholds(val_probs, val_labels)
    intensities, emotions = synthetic_frames(200, 24, 300)
    probs, _, _ = simulated_detector(intensities, rng, prior)
    keep = emotions != "other"  # speech, concentration, ...: no emotion to read out
    probs, truth = probs[keep], list(emotions[keep])
    results = {"majority": majority_baseline(truth, None, EMOTIONS)}
    for rule in RULES:
        answers = predict_emotion(probs, DISFA8, rule=rule, thresholds=thresholds)
        scores = emotion_scores(probs, DISFA8, rule=rule, thresholds=thresholds)
        results[rule] = emotion_metrics(truth, list(answers), scores, EMOTIONS)
    return results


def test_calibrated_rule_beats_the_old_one_on_synthetic_emotions(synthetic_readouts):
    old, new = synthetic_readouts["prototype_v1"], synthetic_readouts["calibrated"]
    majority = synthetic_readouts["majority"]
    # measured (4,874 frames, 60% neutral): old acc 0.705 / macro-F1 0.375, new 0.868 / 0.692
    assert new.accuracy >= old.accuracy + 0.12 and new.macro["f1"] >= old.macro["f1"] + 0.25
    assert new.balanced_accuracy >= old.balanced_accuracy + 0.25
    assert new.accuracy >= majority.accuracy + 0.2  # the majority answer (neutral) is 0.600
    disgust, anger = new.per_class.loc["disgust", "f1"], new.per_class.loc["anger", "f1"]
    assert disgust > 0.7 and anger > 0.3  # the old rule cannot say either with DISFA-8
    assert old.per_class.loc[["anger", "disgust"], "recall"].tolist() == [0, 0]
