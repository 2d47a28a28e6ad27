"""File mode: recorded audio through the same streaming Spotter as the microphone.

Audio is fed in fixed chunks (10 s by default) so that memory stays flat on long files;
the results equal those of any other chunking (tested).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from kws.spotter import Detection, Spotter, chunked

CHUNK_SAMPLES = 160_000
# A file ends abruptly after the last word; a person would have gone on being quiet.
# Half a second of silence lets a word at the very end reach the trigger.
TAIL_PAD_S = 0.5


def run_audio(spotter: Spotter, audio: np.ndarray, tail_pad_s: float = TAIL_PAD_S,
              on_progress: Callable[[int], None] | None = None) -> tuple[list[Detection], list[np.ndarray]]:
    """Reset the spotter, stream ``audio`` through it; return detections and per-model probabilities."""
    spotter.reset()
    if tail_pad_s > 0:
        audio = np.concatenate([audio, np.zeros(int(tail_pad_s * spotter.sample_rate), np.float32)])
    detections, probs = [], [[] for _ in spotter.models]
    for chunk in chunked(audio, CHUNK_SAMPLES):
        dets, ps = spotter.process_scores(chunk)
        detections += dets
        for acc, p in zip(probs, ps):
            acc.append(p)
        if on_progress:
            on_progress(len(chunk))
    return detections, [np.concatenate(p) if p else np.zeros(0, np.float32) for p in probs]


def step_times(spotter: Spotter, model_index: int, n_steps: int) -> np.ndarray:
    model = spotter.models[model_index]
    return np.array([model.step_end_time(i) for i in range(n_steps)])
