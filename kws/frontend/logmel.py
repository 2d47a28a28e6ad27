"""Log-mel features, computed one-shot or incrementally with identical results.

Choice (documented in README): 16 kHz audio, 25 ms Hann window (400 samples), 10 ms
hop (160 samples), 512-point FFT, 40 mel bands from 60 to 7600 Hz (HTK mel scale),
natural log of the band power plus a small floor.  No pre-emphasis and no per-utterance
normalisation: both would carry state or look ahead, and the streaming front end must
equal the offline one frame for frame.

Frame ``i`` covers samples ``[i*hop, i*hop + win)``; a stream of N samples gives
``1 + (N - win) // hop`` frames, whatever the chunk sizes it arrived in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class FrontendParams:
    sample_rate: int = 16000
    window_samples: int = 400
    hop_samples: int = 160
    n_fft: int = 512
    n_mels: int = 40
    fmin_hz: float = 60.0
    fmax_hz: float = 7600.0
    log_floor: float = 1e-6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FrontendParams":
        return cls(**data)

    def frames_for(self, n_samples: int) -> int:
        if n_samples < self.window_samples:
            return 0
        return 1 + (n_samples - self.window_samples) // self.hop_samples


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(p: FrontendParams) -> np.ndarray:
    """Triangular filters, shape (n_fft // 2 + 1, n_mels)."""
    n_bins = p.n_fft // 2 + 1
    bin_hz = np.arange(n_bins) * p.sample_rate / p.n_fft
    edges = _mel_to_hz(np.linspace(_hz_to_mel(p.fmin_hz), _hz_to_mel(p.fmax_hz), p.n_mels + 2))
    fb = np.zeros((n_bins, p.n_mels))
    for m in range(p.n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (bin_hz - lo) / (mid - lo)
        fall = (hi - bin_hz) / (hi - mid)
        fb[:, m] = np.maximum(0.0, np.minimum(rise, fall))
    return fb


class LogMel:
    """Stateless one-shot computation: audio (float, [-1, 1]) -> (frames, n_mels) float32."""

    def __init__(self, params: FrontendParams | None = None):
        self.params = params or FrontendParams()
        p = self.params
        # Periodic Hann window, computed in float64 so that batching never changes a bit
        # that survives the final float32 cast.
        self._window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(p.window_samples) / p.window_samples)
        self._fb = mel_filterbank(p)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        p = self.params
        audio = np.asarray(audio, dtype=np.float64).reshape(-1)
        n = p.frames_for(audio.size)
        if n == 0:
            return np.zeros((0, p.n_mels), dtype=np.float32)
        # as_strided, not sliding_window_view: the same read-only view without the latter's
        # argument checks, which cost more than the FFT for the daemon's 3-frame calls.
        step = audio.strides[0]
        frames = np.lib.stride_tricks.as_strided(audio, (n, p.window_samples), (step * p.hop_samples, step),
                                                 writeable=False)
        spec = np.fft.rfft(frames * self._window, n=p.n_fft, axis=-1)
        power = spec.real**2 + spec.imag**2
        return np.log(power @ self._fb + p.log_floor).astype(np.float32)


class StreamingLogMel:
    """Incremental front end: push chunks of any size, get the frames they complete.

    Keeps the samples that the next frame still needs (at most window - 1 + hop),
    so memory is constant however long the stream runs.
    """

    def __init__(self, params: FrontendParams | None = None):
        self._logmel = LogMel(params)
        self.params = self._logmel.params
        self._pending = np.zeros(0, dtype=np.float64)
        self.frames_emitted = 0

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)
        self.frames_emitted = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        p = self.params
        buf = np.concatenate([self._pending, np.asarray(chunk, dtype=np.float64).reshape(-1)])
        n = p.frames_for(buf.size)
        if n == 0:
            self._pending = buf
            return np.zeros((0, p.n_mels), dtype=np.float32)
        feats = self._logmel(buf[: (n - 1) * p.hop_samples + p.window_samples])
        self._pending = buf[n * p.hop_samples :]
        self.frames_emitted += n
        return feats
