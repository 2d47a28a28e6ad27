"""bench/levels.py: the speech level of a recording, on a hand-made one."""

import numpy as np
import pytest

from bench.levels import speech_dbfs


def test_speech_level_is_the_words_rms_not_the_whole_recordings():
    sr = 16000
    t = np.arange(sr // 2) / sr
    word = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # RMS 0.1 / sqrt(2): -23.0 dBFS
    audio = np.concatenate([np.zeros(sr, np.float32), word, np.zeros(2 * sr, np.float32)])
    assert speech_dbfs(audio) == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.5)
