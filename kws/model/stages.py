"""How a keyword model turns audio into the scores its trigger reads: one stage or two.

- ``gru``: the detector alone (the log-mel GRU), one probability per 30 ms step.
- ``head``: the speech-embedding head alone, one probability per 80 ms embedding, over the
  last 16 embeddings of the stream (openWakeWord's design).
- ``cascade``: the detector runs on every step; when its own trigger fires at the lower
  ``first_threshold`` (``consecutive`` steps in a row, no refractory period: while it stays
  high it asks again every ``consecutive`` steps), the head scores the newest head window the
  step has heard (the 16 embeddings of the 1.98 s ending on head mode's 80 ms grid at or up to
  80 ms before the step), computed then from the audio the stream holds, each mel block and
  embedding once per stream (kws.embedding.recent): a window asked twice is answered once.
  The step's score is the head's probability (``rule: head``) or the mean of the detector's
  trigger score and the head's (``rule: mean``); every other step scores 0.  The model's
  trigger (threshold = the second stage's, one step, the refractory period) reads these
  scores, so a detection stands only where the second stage agrees, and a threshold sweep
  over the scores (kws.eval) measures exactly what the runtime does.

The sidecar's ``second_stage`` names the head file (beside the .onnx), its sha256, and the
sha256 of the two embedding graphs it was trained on; loading refuses any mismatch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kws.configschema import load_dataclass
from kws.embedding.head import EmbeddingHead
from kws.embedding.recent import window_at
from kws.embedding.speech import EMBEDDING_SHA256, MEL_SHA256
from kws.errors import KwsError
from kws.trigger import Trigger, TriggerParams

STAGES = ("gru", "head", "cascade")
RULES = ("head", "mean")


@dataclass
class SecondStage:
    head: str  # the head's .onnx file name, beside the model's .onnx
    head_sha256: str
    mel_sha256: str
    embedding_sha256: str
    mode: str = "cascade"  # which of "head" / "cascade" the model runs unless told otherwise
    threshold: float = 0.5  # the head's threshold (head mode), or the cascade score's
    head_consecutive: int = 1  # head mode: steps in a row at or above the threshold
    first_threshold: float = 0.5  # cascade: the detector's threshold for asking the head
    rule: str = "head"

    def __post_init__(self):
        checks = [(self.mode in ("head", "cascade"), "mode must be 'head' or 'cascade'"),
                  (self.rule in RULES, f"rule must be one of {RULES}"),
                  (0.0 <= self.threshold <= 1.0 and 0.0 <= self.first_threshold <= 1.0,
                   "threshold and first_threshold must be within [0, 1]"),
                  (self.head_consecutive >= 1, "head_consecutive must be >= 1")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def load(cls, data: dict, model_path: Path) -> "SecondStage":
        from kws.model.sidecar import sha256_of, sidecar_path

        stage = load_dataclass(cls, data, f"{sidecar_path(model_path)}: sidecar: second_stage")
        if (stage.mel_sha256, stage.embedding_sha256) != (MEL_SHA256, EMBEDDING_SHA256):
            raise KwsError(f"{model_path}: its second stage was trained on another speech embedding "
                           f"(sha256 {stage.embedding_sha256[:12]}…, this kws runs {EMBEDDING_SHA256[:12]}…)")
        head = Path(model_path).parent / stage.head
        if not head.is_file():
            raise KwsError(f"{model_path}: its second stage's head {head} is missing")
        if sha256_of(head) != stage.head_sha256:
            raise KwsError(f"{head}: sha256 does not match the sidecar of {model_path}; the head is damaged or replaced")
        return stage


class GruStream:
    """Stage ``gru``: the detector's probabilities are the scores."""

    def __init__(self, model):
        self.model = model
        self.detector = model.stream()

    def reset(self) -> None:
        self.detector.reset()

    def push(self, frames, windows, recent) -> np.ndarray:
        return self.detector.push(frames)


class HeadStream:
    """Stage ``head``: the head's probability for each new window of the shared embedding stream."""

    def __init__(self, model):
        self.model = model

    def reset(self) -> None:
        pass

    def push(self, frames, windows, recent) -> np.ndarray:
        return self.model.head(windows)


class CascadeStream:
    """Stage ``cascade``: see the module docstring."""

    def __init__(self, model):
        self.model = model
        self.detector = model.stream()
        s = model.second_stage
        self.first = Trigger(TriggerParams(threshold=s.first_threshold, consecutive=model.meta.consecutive,
                                           refractory_steps=0))
        self.asked = 0  # how often the head is asked (its cost in a stream)
        self._last: tuple[int, float] | None = None  # (window, answer) of the latest ask
        # Answers by segment, when a caller shares one dict between cascades of the same head
        # (kws.train.head scores one dev set at several first-stage thresholds and rules: the
        # asks of a higher threshold are a subset of a lower one's).
        self.memo: dict | None = None

    def reset(self) -> None:
        self.detector.reset()
        self.first.reset()
        self.asked = 0
        self._last = None

    def push(self, frames, windows, recent) -> np.ndarray:
        first_step = self.detector.steps_emitted
        probs = self.detector.push(frames)
        scores = np.zeros(len(probs), np.float32)
        rule = self.model.second_stage.rule
        for i, p in enumerate(probs):
            r = self.first.update(p)
            if r is None:
                continue
            h = self.ask(recent, window_at(self.model.detector_clock.step_end_sample(first_step + i)))
            scores[i] = h if rule == "head" else 0.5 * (r + h)
        return scores

    def ask(self, recent, j: int) -> float:
        """The head's probability for window j of the stream (the newest one the step has heard)."""
        self.asked += 1
        if self._last is not None and self._last[0] == j:
            return self._last[1]  # asked again within the same 80 ms: the same window
        key = None
        if self.memo is not None:
            key = recent.key(j)
            if key in self.memo:
                self._last = (j, self.memo[key])
                return self.memo[key]
        p = float(self.model.head(recent.window(j)[None])[0])
        if key is not None:
            self.memo[key] = p
        self._last = (j, p)
        return p


STREAMS = {"gru": GruStream, "head": HeadStream, "cascade": CascadeStream}

