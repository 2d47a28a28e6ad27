"""File mode: recorded audio through the same streaming Spotter as the microphone.

A file is read and fed block by block (kws.audio.files.AudioFile), so memory stays flat on
long recordings; the results equal those of any other chunking (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

import numpy as np

from kws.audio.files import AudioFile
from kws.spotter import Detection, Spotter, chunked

CHUNK_SAMPLES = 160_000
# A file ends abruptly after the last word; a person would have gone on being quiet.
# Half a second of silence lets a word at the very end reach the trigger.
TAIL_PAD_S = 0.5


@dataclass
class FileResult:
    detections: list[Detection]
    probabilities: list[np.ndarray]  # per model, one value per output step, padding steps included
    n_samples: int  # audio samples in the input, before the tail padding
    truncated: str | None = None  # the file ended early: what was decoded was processed (AudioFile.truncated)


def run_blocks(spotter: Spotter, blocks: Iterable[np.ndarray], tail_pad_s: float = TAIL_PAD_S,
               on_progress: Callable[[int], None] | None = None) -> FileResult:
    """Reset the spotter and stream ``blocks`` of samples, then ``tail_pad_s`` of silence, through it."""
    spotter.reset()
    detections, probs, n = [], [[] for _ in spotter.models], 0

    def feed(chunk):
        dets, ps = spotter.process_scores(chunk)
        detections.extend(dets)
        for acc, p in zip(probs, ps):
            acc.append(p)

    for block in blocks:
        for chunk in chunked(block, CHUNK_SAMPLES):
            feed(chunk)
            n += len(chunk)
            if on_progress:
                on_progress(len(chunk))
    if tail_pad_s > 0:
        feed(np.zeros(int(tail_pad_s * spotter.sample_rate), np.float32))
    return FileResult(detections, [np.concatenate(p) if p else np.zeros(0, np.float32) for p in probs], n)


def run_audio(spotter: Spotter, audio: np.ndarray, tail_pad_s: float = TAIL_PAD_S,
              on_progress: Callable[[int], None] | None = None) -> tuple[list[Detection], list[np.ndarray]]:
    """An array already in memory: its detections and per-model probabilities."""
    r = run_blocks(spotter, [audio], tail_pad_s, on_progress)
    return r.detections, r.probabilities


def run_file(spotter: Spotter, source: str | Path | BinaryIO | AudioFile, *, warn=None,
             tail_pad_s: float = TAIL_PAD_S, on_progress: Callable[[int], None] | None = None) -> FileResult:
    """A file (path, binary file object such as stdin, or an opened AudioFile), streamed in blocks.

    Raises KwsError naming the file if it cannot be read (see AudioFile); a file that ends early
    is processed as far as it decodes and ``truncated`` on the result says so."""
    audio = source if isinstance(source, AudioFile) else AudioFile(source, spotter.sample_rate, warn=warn)
    result = run_blocks(spotter, audio, tail_pad_s, on_progress)
    result.truncated = audio.truncated
    return result


def step_times(spotter: Spotter, model_index: int, n_steps: int) -> np.ndarray:
    model = spotter.models[model_index]
    return model.step_end_time(np.arange(n_steps))
