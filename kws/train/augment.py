"""Waveform and feature augmentations, written with numpy/scipy/soxr.

torchaudio is not used: beside the CPU torch wheel it either fails to import or costs
gigabytes (see README), and every transform here is a few lines of numpy anyway.
"""

from __future__ import annotations

import numpy as np
import soxr
from scipy.signal import butter, fftconvolve, sosfilt

SR = 16000


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_dbfs(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def set_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x * db_to_gain(dbfs - rms_dbfs(x))).astype(np.float32)


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together), by resampling."""
    if abs(factor - 1.0) < 1e-3:
        return x
    return soxr.resample(x, SR, SR / factor, quality="MQ").astype(np.float32)


def room_impulse_response(rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """A synthetic room: direct sound, sparse early reflections, exponentially decaying tail.

    Not a geometric simulation, but it gives the smearing over time and colouring that a
    detector trained on close-talk clips has never heard.
    """
    n = max(int(rt60_s * SR), 64)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.908 * t / rt60_s)  # -60 dB at rt60
    onset = int(rng.uniform(0.002, 0.012) * SR)  # early reflections start after a few ms
    tail[:onset] = 0.0
    for _ in range(rng.integers(3, 8)):  # a few discrete early reflections
        k = int(rng.uniform(0.003, 0.04) * SR)
        if k < n:
            tail[k] += rng.uniform(-0.6, 0.6)
    ir = tail * db_to_gain(rng.uniform(-12.0, 3.0)) / (np.sqrt(np.sum(tail**2)) + 1e-9)
    ir[0] = 1.0  # direct path; the random tail gain sets the direct-to-reverberant ratio
    return ir.astype(np.float32)


def reverberate(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    return fftconvolve(x, ir)[: len(x) + len(ir) // 2].astype(np.float32)


def colour(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A different microphone or channel: random low-pass, high-pass or both (2nd-order)."""
    kind = rng.integers(3)
    if kind in (0, 2):
        x = sosfilt(butter(2, rng.uniform(2500, 7000), "lowpass", fs=SR, output="sos"), x)
    if kind in (1, 2):
        x = sosfilt(butter(2, rng.uniform(80, 400), "highpass", fs=SR, output="sos"), x)
    return x.astype(np.float32)


def telephone(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A narrow-band channel: down to 8 kHz and back (nothing above 4 kHz), half the time
    through 8-bit mu-law as on a landline."""
    y = soxr.resample(x, SR, 8000, quality="MQ")
    if rng.random() < 0.5:
        mu = 255.0
        peak = max(float(np.abs(y).max()), 1e-6)
        c = np.sign(y / peak) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
        c = np.round(c * 127) / 127
        y = peak * np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu
    return soxr.resample(y, 8000, SR, quality="MQ")[: len(x)].astype(np.float32)


def warp_mel(feats: np.ndarray, factor: float) -> np.ndarray:
    """Stretch features along the mel axis: a cheap pitch/vocal-tract-length perturbation."""
    n = feats.shape[1]
    src = np.clip(np.arange(n) / factor, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (src - lo).astype(np.float32)
    return feats[:, lo] * (1 - w) + feats[:, hi] * w


def spec_augment(rng: np.random.Generator, feats: np.ndarray, time_masks: int, freq_masks: int) -> np.ndarray:
    feats = feats.copy()
    fill = float(feats.mean())
    for _ in range(time_masks):
        w = int(rng.integers(0, 12))
        t0 = int(rng.integers(0, max(1, feats.shape[0] - w)))
        feats[t0:t0 + w] = fill
    for _ in range(freq_masks):
        w = int(rng.integers(0, 6))
        f0 = int(rng.integers(0, max(1, feats.shape[1] - w)))
        feats[:, f0:f0 + w] = fill
    return feats
