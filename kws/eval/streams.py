"""Benchmark streams in the style of the Picovoice wake-word benchmark.

A keyword stream is keyword clips separated by stretches of background speech, with
noise mixed in at a fixed SNR; each clip's label runs from its start to its end plus
one second.  A background-only stream (speech, music, noise, no keyword) measures
false alarms per hour.  Both are plain numpy arrays, so any engine can be scored on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR = 16000


@dataclass
class Stream:
    audio: np.ndarray
    labels: list[tuple[float, float]]  # (start_s, end_s) windows in which a detection is a hit
    word_ends: list[float] = field(default_factory=list)  # where each keyword's speech ends (s)

    @property
    def hours(self) -> float:
        return len(self.audio) / SR / 3600


def speech_bounds(audio: np.ndarray, sr: int = 16000, gap_s: float = 0.25) -> tuple[int, int]:
    """Start and end sample of the spoken word in a recording of it.

    10 ms frame energies (smoothed over 30 ms) above a threshold halfway between the
    recording's noise floor and its peak (but at least 30 dB below the peak); loud runs
    closer than ``gap_s`` are merged (the closure in "a-lek-sa"), and the run with the most
    energy is the word.  The noise floor ignores digital silence: many crowd-sourced clips
    end in zero padding, and a floor taken there made the room noise of a whole clip count
    as speech, so the label "the word ends here" fell a second or more after the word.
    """
    hop = sr // 100
    n = len(audio) // hop
    if n == 0:
        return 0, len(audio)
    energy = (audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(np.convolve(energy, np.ones(3) / 3, mode="same"))
    live = db[db > -100]
    floor, peak = float(np.percentile(live if live.size else db, 10)), float(db.max())
    loud = np.flatnonzero(db >= max(peak - 30.0, (floor + peak) / 2))
    runs, start, prev = [], loud[0], loud[0]
    for i in loud[1:]:
        if i - prev > gap_s * 100:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    a, b = max(runs, key=lambda r: energy[r[0]:r[1]].sum())
    return int(a * hop), int(min(len(audio), b * hop))


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def _take(rng, sources: list[np.ndarray], n: int) -> np.ndarray:
    src = sources[int(rng.integers(len(sources)))]
    if len(src) <= n:
        return np.resize(src, n).astype(np.float32)
    start = int(rng.integers(0, len(src) - n))
    return src[start:start + n].astype(np.float32)


def keyword_stream(clips: list[np.ndarray], speech: list[np.ndarray], noise: list[np.ndarray],
                   snr_db: float = 10.0, gap_s: tuple[float, float] = (2.0, 5.0), seed: int = 0,
                   label_tail_s: float = 1.0) -> Stream:
    """Clips separated by background speech, noise at ``snr_db`` below the clips' level."""
    rng = np.random.default_rng(seed)
    parts, labels, word_ends, t = [], [], [], 0
    clip_rms = np.median([_rms(c) for c in clips]) if clips else 0.05
    for clip in clips:
        gap = _take(rng, speech, int(rng.uniform(*gap_s) * SR)) if speech else np.zeros(int(gap_s[0] * SR), np.float32)
        gap = gap * (clip_rms / max(_rms(gap), 1e-6)) * 10 ** (rng.uniform(-12, -3) / 20)
        parts += [gap, clip.astype(np.float32)]
        t += len(gap)
        labels.append((t / SR, (t + len(clip)) / SR + label_tail_s))
        word_ends.append((t + speech_bounds(clip)[1]) / SR)
        t += len(clip)
    tail = _take(rng, speech, 2 * SR) if speech else np.zeros(2 * SR, np.float32)
    parts.append(tail * (clip_rms / max(_rms(tail), 1e-6)) * 0.3)
    audio = np.concatenate(parts)
    if noise:
        n = _take(rng, noise, len(audio))
        audio = audio + n * (clip_rms / max(_rms(n), 1e-6)) * 10 ** (-snr_db / 20)
    return Stream(np.clip(audio, -1, 1).astype(np.float32), labels, word_ends)


def background_stream(sources: list[np.ndarray], hours: float, seed: int = 0) -> Stream:
    """All of ``sources`` in a seeded random order (looped only if they are shorter than
    ``hours``), each piece at a level varied by -10..+3 dB.  Every source is always in:
    cutting the list at ``hours`` would silently drop whole kinds of background."""
    rng = np.random.default_rng(seed)
    need = int(hours * 3600 * SR)
    parts, total, first_pass = [], 0, True
    while total < need or first_pass:
        for k in rng.permutation(len(sources)):
            if not first_pass and total >= need:
                break
            piece = sources[k] if first_pass else sources[k][: need - total]
            parts.append((piece * 10 ** (rng.uniform(-10, 3) / 20)).astype(np.float32))
            total += len(piece)
        first_pass = False
    return Stream(np.clip(np.concatenate(parts), -1, 1), [])


def sentence_stream(sentences: list[tuple[np.ndarray, float, float]], seed: int = 0, gap_s: float = 1.0,
                    label_tail_s: float = 1.0) -> Stream:
    """Whole recorded sentences one after another, each with the keyword at (start_s, end_s)
    inside it; a detection counts from the word's start to its end + ``label_tail_s``.
    Everything else in the sentences is running speech, where a detection is a false alarm."""
    rng = np.random.default_rng(seed)
    parts, labels, word_ends, t = [], [], [], 0
    for audio, start_s, end_s in sentences:
        gap = (rng.standard_normal(int(gap_s * SR)) * 1e-4).astype(np.float32)
        parts += [gap, audio.astype(np.float32)]
        t += len(gap)
        labels.append((t / SR + start_s, t / SR + end_s + label_tail_s))
        word_ends.append(t / SR + end_s)
        t += len(audio)
    parts.append((rng.standard_normal(2 * SR) * 1e-4).astype(np.float32))
    return Stream(np.clip(np.concatenate(parts), -1, 1).astype(np.float32), labels, word_ends)


def overlay_stream(speech: list[np.ndarray], beds: list[np.ndarray], seed: int = 0,
                   snr_db: tuple[float, float] = (0.0, 15.0)) -> Stream:
    """Every speech source once, each over a random stretch of music or noise at a random SNR:
    the TV-in-the-room case, and other acoustic conditions than the sources alone."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in rng.permutation(len(speech)):
        s = speech[k]
        bed = _take(rng, beds, len(s)) if beds else np.zeros_like(s)
        bed = bed * (_rms(s) / max(_rms(bed), 1e-6)) * 10 ** (-rng.uniform(*snr_db) / 20)
        parts.append(((s + bed) * 10 ** (rng.uniform(-10, 3) / 20)).astype(np.float32))
    return Stream(np.clip(np.concatenate(parts), -1, 1).astype(np.float32), [])
