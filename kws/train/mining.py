"""Hard-negative mining: find where the current model fires on training background.

Every few epochs the model is run over all training background (features computed once),
and the places where it is most confident without a keyword become "hard spots".  The
clip composer then centres a share of its background segments on those spots, so the
model keeps meeting exactly the speech and sounds it confuses with the keyword.
"""

from __future__ import annotations

import numpy as np
import torch

from kws.frontend import FrontendParams, LogMel
from kws.model.clock import StepClock


class BackgroundMiner:
    def __init__(self, backgrounds: list[np.ndarray], fe: FrontendParams, stride: int, chunk_frames: int = 6000):
        self.clock = StepClock(fe, stride)
        logmel = LogMel(fe)
        self.features = []
        for bg in backgrounds:  # computed once: features depend only on the audio
            f = logmel(bg)
            self.features.append(f[: len(f) - len(f) % stride])
        self.chunk_frames = chunk_frames - chunk_frames % stride

    def mine(self, model, top_k: int = 3000, min_prob: float = 0.1, spacing_s: float = 1.0) -> list[tuple[int, int]]:
        """(background index, sample) of the top_k local maxima of the model's probability."""
        model.eval()
        gap = max(1, int(spacing_s / self.clock.step_s))
        found = []
        with torch.no_grad():
            for b, feats in enumerate(self.features):
                state = model.initial_state(1)
                probs = []
                for i in range(0, len(feats), self.chunk_frames):
                    x = torch.from_numpy(feats[i:i + self.chunk_frames])[None]
                    p, *state = model(x, *state)
                    probs.append(p[0].numpy())
                probs = np.concatenate(probs) if probs else np.zeros(0)
                for j in np.flatnonzero(probs >= min_prob):
                    lo, hi = max(0, j - gap), j + gap + 1
                    if probs[j] == probs[lo:hi].max():
                        found.append((float(probs[j]), b, int(self.clock.step_end_sample(j))))
        found.sort(reverse=True)
        return [(b, s) for _, b, s in found[:top_k]]
