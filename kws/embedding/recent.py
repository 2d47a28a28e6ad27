"""The recent audio of a stream, and the head windows of it that cascades ask for.

A cascade asks the head only where its detector fires, so the embeddings are not run
continuously (that costs about 6x the detector); but while a word is being said the detector
stays above its first threshold for several steps, and each ask used to compute the 49 mel
blocks and 16 embeddings of its 1.98 s from nothing (31 ms).  Here window j is head-mode
window j (``StreamingEmbedding``: embeddings j .. j + 15, ending at stream sample
1280 j + 12512), and every mel block and embedding is computed once per stream and kept while
its audio is recent: an ask 80 ms after another computes two mel blocks and one embedding.

The numbers are those of ``StreamingEmbedding`` to the bit (the same one-block-per-call mel
graph calls on the same samples, and the embedding graph's windows do not interact), so a
cascade's answer for window j equals the head-mode score of step j (tested).  Audio before
the stream's start is silence, as in ``StreamingEmbedding``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from kws.embedding.speech import (BLOCK_SAMPLES, BLOCK_STEP, EMBEDDING_FRAMES, EMBEDDING_SPAN, EMBEDDING_STEP,
                                  EMBEDDINGS_PER_WINDOW, SEGMENT_SAMPLES, StreamingEmbedding, speech_embedding)

LEAD = StreamingEmbedding.LEAD  # mel block b starts at stream sample 640 b - LEAD
BLOCKS_PER_EMBEDDING = EMBEDDING_FRAMES // 4  # 19 blocks of 4 frames: frames [8 k, 8 k + 76)
BLOCKS_PER_STRIDE = EMBEDDING_STEP // BLOCK_STEP  # 2


def window_at(end_sample: int) -> int:
    """The newest head window that ends at or before stream sample ``end_sample`` (up to 80 ms
    before it: the head was trained on windows ending 0-0.4 s after the word, kws.train.head)."""
    return (int(end_sample) - EMBEDDING_SPAN) // EMBEDDING_STEP


def window_end(j: int) -> int:
    return j * EMBEDDING_STEP + EMBEDDING_SPAN


class RecentEmbeddings:
    """Shared by the cascades of one Spotter (one keyword or several)."""

    # The detectors lag the audio by under 0.1 s, and a window ends up to 80 ms before the
    # step that asks: 0.5 s of slack.
    KEEP = SEGMENT_SAMPLES + 8000

    def __init__(self, embedding=None):
        self.embedding = embedding or speech_embedding()
        self.reset()

    def reset(self) -> None:
        self._audio = np.zeros(self.KEEP, np.float32)  # silence before the stream's start
        self.end = 0  # samples pushed since reset
        self._blocks: dict[int, np.ndarray] = {}  # mel block index -> (4, 32) frames
        self._embeddings: dict[int, np.ndarray] = {}  # embedding index -> (96,)
        self.computed = 0  # embeddings computed since reset (the cost of the asks)

    def push(self, samples: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio[-self.KEEP:], np.asarray(samples, np.float32)])
        self.end += len(samples)
        oldest = self.end - self.KEEP
        for cache, first in ((self._blocks, lambda b: b * BLOCK_STEP - LEAD),
                             (self._embeddings, lambda k: k * EMBEDDING_STEP - LEAD)):
            for key in [key for key in cache if first(key) < oldest]:
                del cache[key]

    def samples(self, start: int, stop: int) -> np.ndarray:
        """Stream samples [start, stop); zeros before the stream's start."""
        lo = len(self._audio) - (self.end - start)
        if lo < 0 or stop > self.end:
            raise ValueError(f"samples {start}..{stop} are outside the history (now at {self.end})")
        return self._audio[lo:lo + (stop - start)]

    def window_audio(self, j: int) -> np.ndarray:
        """The 1.98 s that window j hears."""
        return self.samples(window_end(j) - SEGMENT_SAMPLES, window_end(j))

    def window(self, j: int) -> np.ndarray:
        """Head window j, (16, 96) float32."""
        ks = range(j, j + EMBEDDINGS_PER_WINDOW)
        missing = [k for k in ks if k not in self._embeddings]
        if missing:
            blocks = sorted({b for k in missing for b in self._blocks_of(k)} - self._blocks.keys())
            if blocks:
                audio = np.stack([self.samples(b * BLOCK_STEP - LEAD, b * BLOCK_STEP - LEAD + BLOCK_SAMPLES)
                                  for b in blocks])
                for b, frames in zip(blocks, self.embedding.mel_blocks(audio)):
                    self._blocks[b] = frames
            frames = np.stack([np.concatenate([self._blocks[b] for b in self._blocks_of(k)]) for k in missing])
            for k, e in zip(missing, self.embedding.embed_frames(frames)):
                self._embeddings[k] = e
            self.computed += len(missing)
        return np.stack([self._embeddings[k] for k in ks])

    @staticmethod
    def _blocks_of(k: int) -> range:
        return range(k * BLOCKS_PER_STRIDE, k * BLOCKS_PER_STRIDE + BLOCKS_PER_EMBEDDING)

    def key(self, j: int) -> bytes:
        """Names window j by its audio, for answers shared between streams (kws.train.head)."""
        return hashlib.blake2b(np.ascontiguousarray(self.window_audio(j)).tobytes(), digest_size=16).digest()

