"""The Python API takes what embedders have: float or int16 mono; anything else is refused."""

import numpy as np
import pytest

from kws import KwsError, Spotter
from tests.conftest import embed


@pytest.fixture(scope="module")
def audio(alexa_test_clips, background_speech):
    return embed(alexa_test_clips[:3], background_speech[: 15 * 16000])[0]


def detections(spotter, audio):
    spotter.reset()
    return [d for start in range(0, len(audio), 1600) for d in spotter.process(audio[start:start + 1600])]


def test_int16_is_scaled_and_float64_taken_as_is(shipped_model, audio):
    spotter = Spotter([shipped_model])
    expected = detections(spotter, audio)
    assert len(expected) >= 2
    pcm = np.round(np.clip(audio, -1, 32767 / 32768) * 32768).astype(np.int16)
    from_int16 = detections(spotter, pcm)
    assert [d.time_s for d in from_int16] == [d.time_s for d in expected]
    assert np.allclose([d.probability for d in from_int16], [d.probability for d in expected], atol=1e-3)
    assert detections(spotter, audio.astype(np.float64)) == expected
    spotter.reset()
    _, (p32,) = spotter.process_scores(audio)
    spotter.reset()
    _, (p16,) = spotter.process_scores(pcm)
    assert len(p32) == len(p16) and np.abs(p32 - p16).max() < 1e-2


@pytest.mark.parametrize("samples, expected", [
    (np.zeros(1600, np.uint8), "got uint8"),
    (np.zeros(1600, np.int32), "got int32"),
    (np.zeros((1600, 2), np.float32), "got shape (1600, 2); for stereo pass samples.mean(axis=1)"),
    (np.zeros((1600, 1), np.int16), "got shape (1600, 1)"),
])
def test_other_dtypes_and_shapes_are_refused(shipped_model, samples, expected):
    spotter = Spotter([shipped_model])
    with pytest.raises(ValueError, match="samples must") as info:
        spotter.process(samples)
    assert expected in str(info.value) and isinstance(info.value, KwsError)
