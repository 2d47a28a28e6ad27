"""The step clock: the only conversion between a detector's output steps and audio time.

The detector's causal conv puts its ``kernel - 1`` state frames first, so output step j's
window ends on feature frame ``j * frames_per_step``; it has seen the audio up to the end of
that frame.  The runtime wrapper, training (labels, dev scoring, hard-negative mining) and
the benchmarks all read step times from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kws.frontend import FrontendParams


@dataclass(frozen=True)
class StepClock:
    frontend: FrontendParams
    frames_per_step: int
    # Samples that step 0 has heard: the detector's first frame (the front end's window), or
    # for the speech-embedding head the 12,512 samples of its first embedding.
    first_end_samples: int | None = None

    @property
    def step_samples(self) -> int:
        """Audio samples between two output steps."""
        return self.frames_per_step * self.frontend.hop_samples

    @property
    def step_s(self) -> float:
        return self.step_samples / self.frontend.sample_rate

    def steps_in(self, seconds: float) -> int:
        """Whole steps nearest to a duration (a refractory period, a label span)."""
        return int(round(seconds / self.step_s))

    def step_end_sample(self, step):
        """Samples that output step ``step`` (0-based; an int or an array) has seen."""
        return step * self.step_samples + self.first_end

    @property
    def first_end(self) -> int:
        return self.frontend.window_samples if self.first_end_samples is None else self.first_end_samples

    def step_end_time(self, step):
        """Audio time (s) of the last sample that output step ``step`` has seen."""
        return self.step_end_sample(step) / self.frontend.sample_rate

    def first_step_after(self, sample: int) -> int:
        """The first output step that has seen audio sample ``sample``."""
        return max(0, int(np.ceil((sample - self.first_end) / self.step_samples)))
