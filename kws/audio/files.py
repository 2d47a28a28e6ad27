"""Reading audio files into 16 kHz mono float32, with one-line errors for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from kws.errors import KwsError


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


def read_audio(path: str | Path, sample_rate: int = 16000, *, warn=None) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate``.

    Stereo is averaged to mono and other rates are resampled, each noted through
    ``warn`` (stderr by default) so that a conversion is never silent.  Empty,
    truncated or non-audio files raise KwsError naming the file.
    """
    path = Path(path)
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    if not path.is_file():
        raise KwsError(f"{path}: no such file")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise KwsError(f"{path}: not a readable audio file ({exc})") from None
    if audio.shape[0] == 0:
        raise KwsError(f"{path}: contains no audio samples")
    if not np.all(np.isfinite(audio)):
        raise KwsError(f"{path}: contains non-finite samples")
    if audio.shape[1] > 1:
        warn(f"{path}: {audio.shape[1]} channels, averaged to mono")
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        warn(f"{path}: {rate} Hz, resampled to {sample_rate} Hz")
        mono = resample(mono, rate, sample_rate)
    return mono
