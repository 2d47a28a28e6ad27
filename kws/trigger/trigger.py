"""When does a stream of per-step keyword probabilities count as one detection?

``consecutive`` mode fires when the probability is >= threshold for ``consecutive``
steps in a row; ``mean`` mode fires when the mean over the last ``window`` steps is
>= threshold.  After firing, ``refractory_steps`` steps are ignored so that one
utterance gives one detection; the run must then build up again from scratch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MODES = ("consecutive", "mean")


@dataclass(frozen=True)
class TriggerParams:
    threshold: float = 0.5
    consecutive: int = 3
    refractory_steps: int = 50
    mode: str = "consecutive"
    window: int = 5

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold}")
        if self.consecutive < 1 or self.window < 1 or self.refractory_steps < 0:
            raise ValueError("consecutive and window must be >= 1, refractory_steps >= 0")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


class Trigger:
    def __init__(self, params: TriggerParams):
        self.params = params
        self._recent = deque(maxlen=params.consecutive if params.mode == "consecutive" else params.window)
        self._refractory = 0

    def reset(self) -> None:
        self._recent.clear()
        self._refractory = 0

    def update(self, probability: float) -> float | None:
        """Feed one step; return the detection's score when it fires, else None."""
        if self._refractory > 0:
            self._refractory -= 1
            return None
        p = self.params
        self._recent.append(float(probability))
        if len(self._recent) < self._recent.maxlen:
            return None
        if p.mode == "consecutive":
            fired = min(self._recent) >= p.threshold
            score = max(self._recent)
        else:
            score = sum(self._recent) / len(self._recent)
            fired = score >= p.threshold
        if not fired:
            return None
        self._recent.clear()
        self._refractory = p.refractory_steps
        return score
