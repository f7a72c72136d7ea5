"""AU -> emotion mapping: prototypes, scores on hand-made AU vectors, coverage statements."""

import numpy as np
import pytest
import torch

from au.aus import DISFA_AUS, DISFA_DETECTION_AUS, parse_au
from au.emotions import (
    EMOTIONS,
    PROTOTYPES,
    Prototype,
    emotion_coverage,
    emotion_scores,
    format_coverage,
    parse_emotion,
    predict_emotion,
)

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
