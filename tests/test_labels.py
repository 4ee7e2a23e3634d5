"""The seven labels, in the original fer2013.csv coding."""

import pytest

from fer_platform import labels


def test_label_order_is_the_original_fer2013_coding():
    assert labels.EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert labels.emotion_code("neutral") == 6
    with pytest.raises(ValueError, match="known: angry"):
        labels.emotion_code("contempt")
