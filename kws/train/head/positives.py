"""Head windows of one word: each recording or synthetic clip, several times, in a fresh
acoustic setting, with windows ending 0-0.4 s after the word does ("the keyword just ended").

A copy is the utterance (its speed, room, channel and level varied) placed after about two
seconds of background of the split (speech, music or noise at a random SNR below the word);
the windows are the 16 embeddings of the 1.98 s ending at the word's end plus a random
jitter of under 80 ms, and at each further 80 ms step up to ``offsets`` windows.  The
cascade asks the head when the detector fires, a few steps after the word ends, and the
head alone sees a window every 80 ms: both fall in that range.
"""

from __future__ import annotations

import numpy as np

from kws.embedding.speech import EMBEDDING_STEP, SEGMENT_SAMPLES, SpeechEmbedding
from kws.eval.streams import speech_bounds
from kws.train import augment

SR = 16000


def _bed(rng, backgrounds: list[np.ndarray], n: int) -> np.ndarray:
    if not backgrounds:
        return (rng.standard_normal(n) * 1e-4).astype(np.float32)
    src = backgrounds[int(rng.integers(len(backgrounds)))]
    if len(src) <= n:
        return np.resize(src, n).astype(np.float32)
    start = int(rng.integers(0, len(src) - n))
    return src[start:start + n].astype(np.float32)


def one_copy(rng, audio: np.ndarray, backgrounds: list[np.ndarray], offsets: int,
             snr_db=(0.0, 25.0), level_dbfs=(-50.0, -12.0)) -> tuple[np.ndarray, int]:
    """(context audio, sample where the embedding of the first window must end)."""
    u = audio
    if rng.random() < 0.5:
        u = augment.change_speed(u, float(rng.uniform(0.9, 1.1)))
    if rng.random() < 0.4:
        u = augment.reverberate(u, augment.room_impulse_response(rng, float(rng.uniform(0.15, 0.7))))
    if rng.random() < 0.3:
        u = augment.colour(rng, u)
    u = augment.set_level(u, float(rng.uniform(*level_dbfs)))
    end_in_u = speech_bounds(u)[1]
    jitter = int(rng.integers(0, EMBEDDING_STEP))
    pos = max(0, SEGMENT_SAMPLES - end_in_u) + int(rng.integers(0, int(0.3 * SR)))
    total = pos + len(u) + jitter + offsets * EMBEDDING_STEP + SR
    ctx = _bed(rng, backgrounds, total)
    speech_rms = np.sqrt(np.mean(u.astype(np.float64) ** 2) + 1e-12)
    bed_rms = max(np.sqrt(np.mean(ctx.astype(np.float64) ** 2)), 1e-7)
    ctx = ctx * (speech_rms / bed_rms) * 10 ** (-float(rng.uniform(*snr_db)) / 20)
    ctx[pos:pos + len(u)] += u
    if rng.random() < 0.15:
        ctx = augment.telephone(rng, ctx)
    return np.clip(ctx, -1, 1).astype(np.float32), pos + end_in_u + jitter


def positive_windows(utterances: list[np.ndarray], backgrounds: list[np.ndarray], copies: int, seed: int,
                     embedding: SpeechEmbedding, offsets: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(windows (n, 16, 96) float16, the utterance index of each window)."""
    out, owner = [], []
    for i, audio in enumerate(utterances):
        for c in range(copies):
            rng = np.random.default_rng([seed, i, c])
            ctx, first_end = one_copy(rng, audio, backgrounds, offsets)
            seg = ctx[first_end - SEGMENT_SAMPLES:first_end + (offsets - 1) * EMBEDDING_STEP]
            emb = embedding.embeddings(seg)
            n = len(emb) - 15
            idx = np.arange(n)[:, None] + np.arange(16)
            out.append(emb[idx].astype(np.float16))
            owner += [i * copies + c] * n
    if not out:
        return np.zeros((0, 16, 96), np.float16), np.zeros(0, np.int64)
    return np.concatenate(out), np.asarray(owner)
