"""Checkpoint selection on the dev benchmark (kws.eval.benchmark), scored in torch.

Each epoch's model is run over the dev streams' features (computed once) and scored by
the benchmark's own metric, miss rate at the target false-alarm rate, through the same
scoring code as ``kws eval``.  To be fast the long streams are cut into segments run as
one batch; each segment starts ``warmup_steps`` early so the recurrent state has settled
when its own steps begin (the exported model then scores the whole stream through the
runtime for the sidecar's threshold).
"""

from __future__ import annotations

import numpy as np
import torch

from kws.eval.benchmark import Benchmark
from kws.eval.scoring import ScoredStream, THRESHOLDS, curve, miss_at_fa, sweep_streams
from kws.frontend import FrontendParams, LogMel
from kws.model.clock import StepClock
from kws.trigger import TriggerParams


class DevSelector:
    def __init__(self, bench: Benchmark, fe: FrontendParams, stride: int, consecutive: int = 3,
                 refractory_s: float = 1.5, segment_steps: int = 1000, warmup_steps: int = 100):
        self.bench, self.stride = bench, stride
        self.segment, self.warmup = segment_steps, warmup_steps
        self.clock = StepClock(fe, stride)
        self.consecutive, self.refractory_steps = consecutive, self.clock.steps_in(refractory_s)
        logmel = LogMel(fe)
        self.streams = []
        for name, group, s in bench.streams:
            f = logmel(s.audio)
            self.streams.append((name, group, f[: len(f) - len(f) % stride], s))
        # Only thresholds that can reach low false-alarm rates matter for the choice.
        self.thresholds = THRESHOLDS[THRESHOLDS >= 0.5]

    def _segments(self, feats: np.ndarray) -> tuple[torch.Tensor, int]:
        n_steps = len(feats) // self.stride
        n_seg = max(1, -(-n_steps // self.segment))
        span = (self.segment + self.warmup) * self.stride
        out = np.zeros((n_seg, span, feats.shape[1]), np.float32)
        for k in range(n_seg):
            lo = k * self.segment * self.stride - self.warmup * self.stride
            piece = feats[max(lo, 0): (k + 1) * self.segment * self.stride]
            at = max(0, -lo)
            out[k, at:at + len(piece)] = piece
            if at:  # the first segment has no past: pad with its own first frame, not zeros
                out[k, :at] = piece[0]
        return torch.from_numpy(out), n_steps

    @torch.no_grad()
    def probabilities(self, model, feats: np.ndarray, batch: int = 64) -> np.ndarray:
        x, n_steps = self._segments(feats)
        probs = []
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            p, *_ = model(xb, *model.initial_state(len(xb)))
            probs.append(p[:, self.warmup:].reshape(-1).numpy())
        return np.concatenate(probs)[:n_steps]

    def scored(self, model) -> list[ScoredStream]:
        model.eval()
        out = []
        for name, group, feats, s in self.streams:
            probs = self.probabilities(model, feats)
            out.append(ScoredStream(name, group, probs, self.clock.step_end_time(np.arange(len(probs))), s.labels, s.hours))
        return out

    def evaluate(self, model, target: float = 0.5) -> dict:
        """Miss rate at the target false-alarm rate, at twice and four times it, and their mean
        (``dev_miss_around``): with a few hours of dev audio the target allows one or two false
        alarms, so one confident false alarm more or less swings the single number by tens of
        percent from epoch to epoch; the mean over the neighbouring rates is the steadier choice."""
        def params(th):
            return TriggerParams(threshold=th, consecutive=self.consecutive, refractory_steps=self.refractory_steps)

        points = sweep_streams(self.scored(model), self.thresholds, params)
        out = {f"dev_miss_{fa:g}": miss_at_fa(curve(points), fa)[0] for fa in (target, 2 * target, 4 * target)}
        out["dev_miss_around"] = float(np.mean(list(out.values())))
        return out
