"""The emotion vocabulary: canonical names, their common spellings, the basic classes.

Beside :mod:`au.aus` at the bottom of the package: data readers, metrics, tasks and the
AU -> emotion read-out (:mod:`au.emotions.readout`, FACS/EMFACS prototypes and their scoring)
all name emotions with it.
"""

from __future__ import annotations

#: Every emotion au names, in report order.
EMOTIONS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt",
)  # fmt: skip

#: Common spellings of emotion labels (folder names, dataset codes) and their canonical name.
EMOTION_SYNONYMS: dict[str, str] = {
    "neutral": "neutral", "neutrality": "neutral",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness",
    "sadness": "sadness", "sad": "sadness",
    "surprise": "surprise", "surprised": "surprise",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "anger": "anger", "angry": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "contempt": "contempt", "contemptuous": "contempt",
}  # fmt: skip
#: The default classes of an emotion head: neutral and the six basic emotions (FER-2013's seven).
BASIC_EMOTIONS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust",
)  # fmt: skip


def parse_emotion(name: str) -> str:
    """Turn ``"Happy"``, ``"angry"`` or ``"Surprised"`` into the canonical emotion name.

    Raises:
        ValueError: If ``name`` is not a known emotion or synonym; the message lists them.
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in EMOTION_SYNONYMS:
        return EMOTION_SYNONYMS[key]
    raise ValueError(f"unknown emotion {name!r}; known names are: {', '.join(EMOTION_SYNONYMS)}")
