"""The detection chime, generated in code: two short sine tones with soft edges."""

from __future__ import annotations

import numpy as np

SR = 16000


def chime(sample_rate: int = SR) -> np.ndarray:
    def tone(freq, seconds):
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades: no clicks
        return 0.3 * env * np.sin(2 * np.pi * freq * t)

    return np.concatenate([tone(880.0, 0.09), np.zeros(int(0.02 * sample_rate)), tone(1320.0, 0.12)]).astype(np.float32)
