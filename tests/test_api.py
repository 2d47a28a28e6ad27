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
    (np.zeros((1600, 3, 1), np.int16), "got shape (1600, 3, 1)"),
    (np.zeros(1600, np.int16).tobytes(), "got bytes; for raw 16-bit PCM bytes pass np.frombuffer"),
    (np.array([0.0, np.nan, 0.0], np.float32), "samples contain NaN or infinite values"),
    (np.array([0.0, np.inf]), "samples contain NaN or infinite values"),
])
def test_other_dtypes_and_shapes_are_refused(shipped_model, samples, expected):
    spotter = Spotter([shipped_model])
    with pytest.raises(ValueError, match="samples (must|contain)") as info:
        spotter.process(samples)
    assert expected in str(info.value) and isinstance(info.value, KwsError)


def test_one_channel_as_sounddevice_hands_it_is_taken(shipped_model, audio):
    spotter = Spotter([shipped_model])
    expected = detections(spotter, audio)
    assert detections(spotter, audio[:, None]) == expected
    pcm = np.round(np.clip(audio, -1, 32767 / 32768) * 32768).astype(np.int16)
    assert [d.time_s for d in detections(spotter, pcm[:, None])] == [d.time_s for d in expected]


def test_one_long_call_is_fed_in_blocks_with_the_same_results(shipped_model, audio):
    spotter = Spotter([shipped_model])
    long = np.tile(audio, 3)  # longer than one internal block
    expected = detections(spotter, long)
    spotter.reset()
    pushed = []
    push = spotter.frontend.push
    spotter.frontend.push = lambda samples: (pushed.append(len(samples)), push(samples))[1]
    dets, (probs,) = spotter.process_scores(long)
    # The same detections; probabilities agree to float rounding (onnxruntime's sums depend on
    # how many frames one run gets, as they do for any chunking).
    assert [(d.keyword, d.sample_index) for d in dets] == [(d.keyword, d.sample_index) for d in expected]
    assert len(dets) >= 6 and np.allclose([d.probability for d in dets], [d.probability for d in expected],
                                          rtol=0, atol=1e-5)
    assert max(pushed) <= spotter_block() < len(long) and sum(pushed) == len(long)
    spotter.reset()
    _, (chunked_probs,) = spotter.process_scores(long[: len(long) // 2])
    _, (rest,) = spotter.process_scores(long[len(long) // 2:])
    assert np.allclose(probs, np.concatenate([chunked_probs, rest]), rtol=0, atol=1e-5)


def spotter_block():
    from kws.spotter import PROCESS_BLOCK
    return PROCESS_BLOCK
