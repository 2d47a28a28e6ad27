import numpy as np
import pytest

from kws.frontend import FrontendParams, LogMel, StreamingLogMel


@pytest.fixture(scope="module")
def audio(alexa_test_clips):
    return alexa_test_clips[0]


def stream(audio, size):
    fe = StreamingLogMel()
    parts = [fe.push(audio[i:i + size]) for i in range(0, len(audio), size)]
    return np.concatenate(parts)


@pytest.mark.parametrize("size", [1, 160, 1000, 7919, None])
def test_chunked_equals_one_shot(audio, size):
    offline = LogMel()(audio)
    online = stream(audio, size or len(audio))
    assert online.shape == offline.shape
    assert np.max(np.abs(online - offline)) <= 1e-5


def test_frame_count_and_shape():
    p = FrontendParams()
    assert LogMel(p)(np.zeros(399)).shape == (0, 40)
    assert LogMel(p)(np.zeros(400)).shape == (1, 40)
    assert LogMel(p)(np.zeros(400 + 160 * 5 + 159)).shape == (6, 40)


def test_streaming_memory_is_bounded():
    fe = StreamingLogMel()
    for _ in range(200):
        fe.push(np.random.default_rng(0).standard_normal(1000).astype(np.float32))
    assert fe._pending.size < fe.params.window_samples + fe.params.hop_samples


def test_tone_lands_in_the_right_band():
    p = FrontendParams()
    t = np.arange(16000) / 16000
    feats = LogMel(p)(0.5 * np.sin(2 * np.pi * 1000 * t))
    from kws.frontend.logmel import _hz_to_mel, _mel_to_hz
    centres = _mel_to_hz(np.linspace(_hz_to_mel(p.fmin_hz), _hz_to_mel(p.fmax_hz), p.n_mels + 2))[1:-1]
    assert abs(centres[feats.mean(axis=0).argmax()] - 1000) < 120
