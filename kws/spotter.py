"""The streaming pipeline shared by file mode, the daemon and the benchmarks.

audio chunks -> one StreamingLogMel -> each model's stream (kws.model.stages) -> its Trigger -> Detection

Several keywords share the one front end, and the one speech embedding when their second
stages need it (a stream of embedding windows for stage ``head``, the recent audio and the
embeddings asked of it for stage ``cascade``).  ``Spotter.process`` takes chunks of any size;
the results do not depend on how the audio was chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from kws.embedding.recent import RecentEmbeddings
from kws.embedding.speech import StreamingEmbedding
from kws.errors import AudioFormatError, KwsError
from kws.frontend import FrontendParams, StreamingLogMel
from kws.model import KeywordModel
from kws.trigger import Trigger, TriggerParams

PROCESS_BLOCK = 160_000  # samples (10 s) per step inside one process() call


@dataclass(frozen=True)
class Detection:
    keyword: str
    time_s: float  # audio time of the last sample the model had seen when it fired
    probability: float
    sample_index: int = 0  # the same moment as a sample count on the stream's clock

    def to_dict(self) -> dict:
        """What a JSON line carries: keyword, time_s, probability."""
        return {"keyword": self.keyword, "time_s": round(self.time_s, 3),
                "probability": round(self.probability, 4)}


def trigger_params_for(model: KeywordModel, threshold: float | None = None,
                       consecutive: int | None = None, refractory_s: float | None = None,
                       mode: str = "consecutive", window: int = 5) -> TriggerParams:
    """Trigger settings for a model: the sidecar's recommendations unless overridden."""
    meta = model.meta
    refractory = meta.refractory_s if refractory_s is None else refractory_s
    return TriggerParams(
        threshold=model.threshold if threshold is None else threshold,
        consecutive=model.consecutive if consecutive is None else consecutive,
        refractory_steps=model.clock.steps_in(refractory),
        mode=mode, window=window)


class Spotter:
    """Detect keywords in a stream of 16 kHz mono float32 audio.

    >>> spotter = Spotter.from_models(["alexa"])
    >>> for detection in spotter.process(chunk): print(detection.keyword, detection.time_s)
    """

    def __init__(self, models: Sequence[KeywordModel], triggers: Sequence[TriggerParams] | None = None):
        if not models:
            raise ValueError("at least one model is needed")
        by_keyword = {}
        for m in models:
            by_keyword.setdefault(m.keyword, []).append(str(m.path))
        for keyword, paths in by_keyword.items():
            if len(paths) > 1:  # their detections and metrics could not be told apart
                raise KwsError(f"models {', '.join(paths)} all have the keyword {keyword!r}; use one model per keyword")
        self.frontend_params: FrontendParams = models[0].frontend
        self.frontend = StreamingLogMel(self.frontend_params)
        self.models = list(models)
        triggers = triggers or [trigger_params_for(m) for m in self.models]
        self.streams = [m.scores_stream() for m in self.models]
        self.triggers = [Trigger(t) for t in triggers]
        self.embeddings = StreamingEmbedding() if any(m.needs_embeddings for m in self.models) else None
        self.recent = RecentEmbeddings() if any(m.needs_recent_audio for m in self.models) else None
        self.last_probability = {m.keyword: 0.0 for m in self.models}
        # The meter's "peak": the highest recent score, decaying by 1 % a step.  A cascade scores
        # only the few steps where its detector fired, which a meter drawn a few times a second
        # would miss if it looked only at the latest step.
        self.peak_probability = {m.keyword: 0.0 for m in self.models}
        self.samples_seen = 0  # the stream's clock
        self._start_sample = 0  # where this Spotter's own audio began on that clock
        self._steps = [0] * len(self.models)  # score steps each model has given since reset

    @classmethod
    def from_models(cls, refs: Iterable[str], threshold: float | None = None, stage: str | None = None,
                    **trigger_kw) -> "Spotter":
        models = [KeywordModel(r, stage=stage) for r in refs]
        return cls(models, [trigger_params_for(m, threshold, **trigger_kw) for m in models])

    @property
    def sample_rate(self) -> int:
        return self.frontend_params.sample_rate

    def reset(self) -> None:
        self.frontend.reset()
        for shared in (self.embeddings, self.recent):
            if shared is not None:
                shared.reset()
        for s in self.streams:
            s.reset()
        for t in self.triggers:
            t.reset()
        self.samples_seen = self._start_sample = 0
        self._steps = [0] * len(self.models)

    def continue_clock(self, samples_seen: int) -> None:
        """Take over a stream already ``samples_seen`` samples long (a reload swaps Spotters
        mid-stream): detection times and sample indices go on from there instead of from 0."""
        self.samples_seen = self._start_sample = samples_seen

    def process_scores(self, samples: np.ndarray) -> tuple[list[Detection], list[np.ndarray]]:
        """Feed audio; return the detections and each model's new per-step probabilities.

        Long input is fed in blocks of PROCESS_BLOCK samples, so memory stays flat however
        long it is; the results are those of one call (they never depend on the chunking)."""
        samples = as_float_samples(samples)
        if len(samples) <= PROCESS_BLOCK:
            return self._process_block(samples)
        detections, probs = [], [[] for _ in self.models]
        for block in chunked(samples, PROCESS_BLOCK):
            dets, ps = self._process_block(block)
            detections.extend(dets)
            for acc, p in zip(probs, ps):
                acc.append(p)
        return detections, [np.concatenate(p) for p in probs]

    def _process_block(self, samples: np.ndarray) -> tuple[list[Detection], list[np.ndarray]]:
        self.samples_seen += len(samples)
        frames = self.frontend.push(samples)
        windows = self.embeddings.push(samples) if self.embeddings is not None else None
        if self.recent is not None:
            self.recent.push(samples)
        detections, all_probs = [], []
        for model, stream, trigger, first_step in zip(self.models, self.streams, self.triggers, self._steps):
            probs = stream.push(frames, windows, self.recent)
            all_probs.append(probs)
            if probs.size:
                self.last_probability[model.keyword] = float(probs[-1])
                decayed = self.peak_probability[model.keyword] * 0.99 ** len(probs)
                self.peak_probability[model.keyword] = max(float(probs.max()), decayed)
            for i, p in enumerate(probs):
                score = trigger.update(p)
                if score is not None:
                    at = self._start_sample + model.step_end_sample(first_step + i)
                    detections.append(Detection(model.keyword, at / self.sample_rate, score, at))
        self._steps = [n + len(p) for n, p in zip(self._steps, all_probs)]
        return detections, all_probs

    def process(self, samples: np.ndarray) -> list[Detection]:
        """Feed 16 kHz mono samples: float32/float64 in [-1, 1], or int16 (scaled by 1/32768)."""
        return self.process_scores(samples)[0]

    def run(self, chunks: Iterable[np.ndarray]) -> Iterator[Detection]:
        for chunk in chunks:
            yield from self.process(chunk)


def as_float_samples(samples) -> np.ndarray:
    """1-D float32 samples from what API users feed; anything else is refused, never misread.

    int16 is what Porcupine and openWakeWord users have; other integer types (uint8, int32)
    have no single scale, and a 2-D array is stereo or a batch that would be read as one
    stream, so both would silently detect nothing.
    """
    if isinstance(samples, (bytes, bytearray, memoryview, str)):
        raise AudioFormatError(f"samples must be a numpy array (float32/float64 in [-1, 1] or int16), got "
                               f"{type(samples).__name__}; for raw 16-bit PCM bytes pass "
                               f"np.frombuffer(data, dtype=np.int16)")
    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[1] == 1:  # one channel as sounddevice hands it: (frames, 1)
        samples = samples[:, 0]
    if samples.ndim != 1:
        raise AudioFormatError(f"samples must be one channel (a 1-D array or shape (N, 1)), got shape "
                               f"{samples.shape}; for stereo pass samples.mean(axis=1)")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    if samples.dtype in (np.float32, np.float64):
        samples = samples.astype(np.float32, copy=False)
        if not np.isfinite(samples).all():
            raise AudioFormatError("samples contain NaN or infinite values")
        return samples
    raise AudioFormatError(f"samples must be float32/float64 in [-1, 1] or int16, got {samples.dtype}")


def chunked(audio: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(audio), size):
        yield audio[start:start + size]
