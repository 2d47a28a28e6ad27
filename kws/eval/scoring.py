"""Score per-step probabilities against labels: hits, misses, false alarms per hour, DET.

``trigger_fires`` is a vectorised equivalent of kws.trigger.Trigger (tested equal on
random sequences), so that a threshold sweep over hours of audio costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kws.trigger import TriggerParams


def _run_stat(probs: np.ndarray, k: int, mode: str) -> np.ndarray:
    """For each step i >= k-1: min (consecutive) or mean (mean) of probs[i-k+1 : i+1]."""
    if len(probs) < k:
        return np.zeros(0)
    win = np.lib.stride_tricks.sliding_window_view(probs.astype(np.float64), k)
    return win.min(axis=1) if mode == "consecutive" else win.mean(axis=1)


def trigger_fires(probs: np.ndarray, params: TriggerParams) -> np.ndarray:
    """Step indices at which a fresh Trigger(params) fed ``probs`` would fire."""
    k = params.consecutive if params.mode == "consecutive" else params.window
    stat = _run_stat(np.asarray(probs), k, params.mode)
    candidates = np.flatnonzero(stat >= params.threshold) + (k - 1)
    fires, next_ok_start = [], 0
    for i in candidates:
        if i - k + 1 >= next_ok_start:  # the whole window lies after the refractory period
            fires.append(i)
            next_ok_start = i + params.refractory_steps + 1
    return np.asarray(fires, dtype=np.int64)


@dataclass
class Outcome:
    hits: int
    misses: int
    false_alarms: int
    hours: float

    @property
    def miss_rate(self) -> float:
        total = self.hits + self.misses
        return self.misses / total if total else float("nan")

    @property
    def fa_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else float("nan")


def match(detection_times: np.ndarray, labels: list[tuple[float, float]]) -> tuple[int, int, int]:
    """(hits, misses, false alarms): a label is hit by any detection inside its window;
    a detection inside no window is a false alarm; several detections in one window count once."""
    hit = np.zeros(len(labels), dtype=bool)
    fa = 0
    for t in detection_times:
        inside = [i for i, (a, b) in enumerate(labels) if a <= t <= b]
        if inside:
            hit[inside] = True
        else:
            fa += 1
    return int(hit.sum()), int((~hit).sum()), fa


def sweep(kw_probs: np.ndarray, kw_times: np.ndarray, labels, bg_probs: np.ndarray, bg_hours: float,
          thresholds: np.ndarray, make_params) -> list[tuple[float, Outcome]]:
    """For each threshold: misses on the keyword stream, false alarms on the background stream.

    ``make_params(threshold) -> TriggerParams``; ``kw_times[i]`` is step i's audio time.
    False alarms on the keyword stream (outside every label window) are counted too.
    """
    out = []
    for th in thresholds:
        p = make_params(float(th))
        hits, misses, fa_kw = match(kw_times[trigger_fires(kw_probs, p)], labels)
        fa_bg = len(trigger_fires(bg_probs, p))
        hours = bg_hours + len(kw_probs) * (kw_times[1] - kw_times[0] if len(kw_times) > 1 else 0) / 3600
        out.append((float(th), Outcome(hits, misses, fa_bg + fa_kw, hours)))
    return out


def miss_at_fa(curve: list[tuple[float, Outcome]], fa_per_hour: float) -> tuple[float, float | None]:
    """Lowest miss rate among thresholds whose false alarms per hour are <= the target,
    and the threshold that gives it (None, with miss rate 1.0, when none qualifies)."""
    ok = [(o.miss_rate, th) for th, o in curve if o.fa_per_hour <= fa_per_hour]
    if not ok:
        return 1.0, None
    best = min(ok, key=lambda x: (x[0], -x[1]))
    return best[0], best[1]


def det_points(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(fa_per_hour, miss_rate) of a DET curve from (miss, fa) pairs: for each false-alarm rate,
    the lowest miss rate any threshold reaches at or below it (the operating envelope)."""
    out, best = [], float("inf")
    for fa, miss in sorted((fa, miss) for miss, fa in points):
        if miss < best:
            best = miss
            out.append((fa, miss))
    return out


def peak_trigger_score(probs: np.ndarray, params: TriggerParams) -> float:
    """The highest threshold at which ``trigger_fires(probs, params)`` still fires (0.0 if the
    stream is shorter than the trigger's window): any threshold above it rejects the stream."""
    k = params.consecutive if params.mode == "consecutive" else params.window
    stat = _run_stat(np.asarray(probs), k, params.mode)
    return float(stat.max()) if stat.size else 0.0


def sweep_clips(pos_probs: list[np.ndarray], bg_probs: list[np.ndarray], bg_hours: float,
                thresholds, make_params) -> list[tuple[float, Outcome]]:
    """For each threshold: a positive clip (a recording of the word, no labelled span) is hit
    when the trigger fires anywhere in it; every firing on a background stream is a false alarm.
    ``make_params(threshold) -> TriggerParams``."""
    out = []
    for th in thresholds:
        p = make_params(float(th))
        hits = sum(len(trigger_fires(x, p)) > 0 for x in pos_probs)
        fa = sum(len(trigger_fires(x, p)) for x in bg_probs)
        out.append((float(th), Outcome(int(hits), len(pos_probs) - int(hits), int(fa), bg_hours)))
    return out
