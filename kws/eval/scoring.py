"""Score per-step probabilities against labels: hits, misses, false alarms per hour, DET.

``trigger_fires`` is a vectorised equivalent of kws.trigger.Trigger (tested equal on
random sequences), so that a threshold sweep over hours of audio costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kws.trigger import TriggerParams

# The one threshold grid for probability-scored engines: even steps of 0.05 in logit from
# p = 0.047 to p = 0.999994, so it is as fine at 0.93 or 0.9999 (where a wake-word
# detector's low-false-alarm operating points lie) as at 0.5.
THRESHOLDS = 1.0 / (1.0 + np.exp(-np.linspace(-3.0, 12.0, 301)))


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
    hit, fa = hit_mask(detection_times, labels)
    return int(hit.sum()), int((~hit).sum()), fa


def hit_mask(detection_times: np.ndarray, labels: list[tuple[float, float]]) -> tuple[np.ndarray, int]:
    """Which labels were hit (bool per label), and the number of false alarms (``match``'s rules)."""
    hit = np.zeros(len(labels), dtype=bool)
    fa = 0
    for t in detection_times:
        inside = [i for i, (a, b) in enumerate(labels) if a <= t <= b]
        if inside:
            hit[inside] = True
        else:
            fa += 1
    return hit, fa


@dataclass
class ScoredStream:
    """One engine's scores on one benchmark stream."""
    name: str
    group: str  # keyword streams: "alone" or "sentences"; streams without labels: "negatives"
    probs: np.ndarray
    times: np.ndarray  # audio time (s) of each score
    labels: list[tuple[float, float]]
    hours: float


@dataclass
class Point:
    """Counts at one threshold over a whole benchmark."""
    threshold: float
    groups: dict[str, tuple[int, int]]  # group -> (hits, misses)
    false_alarms: int
    hours: float
    fa_by_stream: dict[str, int] = field(default_factory=dict)
    # keyword stream -> indices of its missed labels: in a word-alone stream label i is clip i
    # at every SNR, so a recording missed at every SNR is told from one lost in noise
    missed_by_stream: dict[str, list[int]] = field(default_factory=dict)

    def outcome(self, group: str | None = None) -> Outcome:
        """Misses of one group (None: all keyword streams pooled) and every false alarm."""
        pairs = [v for g, v in self.groups.items() if group is None or g == group]
        return Outcome(sum(h for h, _ in pairs), sum(m for _, m in pairs), self.false_alarms, self.hours)


def score_point(streams: list[ScoredStream], params: TriggerParams, threshold: float) -> Point:
    groups: dict[str, list[int]] = {}
    fa_by_stream, missed_by_stream = {}, {}
    for s in streams:
        hit, fa = hit_mask(s.times[trigger_fires(s.probs, params)], s.labels)
        if s.labels:
            g = groups.setdefault(s.group, [0, 0])
            g[0] += int(hit.sum())
            g[1] += int((~hit).sum())
            missed_by_stream[s.name] = np.flatnonzero(~hit).tolist()
        fa_by_stream[s.name] = fa
    return Point(threshold, {g: (h, m) for g, (h, m) in groups.items()}, sum(fa_by_stream.values()),
                 sum(s.hours for s in streams), fa_by_stream, missed_by_stream)


def sweep_streams(streams: list[ScoredStream], thresholds, make_params) -> list[Point]:
    """For each threshold: hits and misses per group, false alarms over every stream (keyword
    streams outside their label windows included) and the hours they came from."""
    return [score_point(streams, make_params(float(th)), float(th)) for th in thresholds]


def curve(points: list[Point], group: str | None = None) -> list[tuple[float, Outcome]]:
    return [(p.threshold, p.outcome(group)) for p in points]


def sweep(kw_probs: np.ndarray, kw_times: np.ndarray, labels, bg_probs: np.ndarray, bg_hours: float,
          thresholds: np.ndarray, make_params) -> list[tuple[float, Outcome]]:
    """One keyword stream and one background stream: ``sweep_streams`` for that pair.

    ``make_params(threshold) -> TriggerParams``; ``kw_times[i]`` is step i's audio time.
    """
    kw_hours = len(kw_probs) * (kw_times[1] - kw_times[0] if len(kw_times) > 1 else 0) / 3600
    streams = [ScoredStream("keyword", "alone", np.asarray(kw_probs), np.asarray(kw_times), list(labels), kw_hours),
               ScoredStream("background", "negatives", np.asarray(bg_probs), np.zeros(len(bg_probs)), [], bg_hours)]
    return curve(sweep_streams(streams, thresholds, make_params))


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
    ``make_params(threshold) -> TriggerParams``.  The same counting as ``sweep_streams``: each
    clip is a stream whose label covers all of it, and the background carries the hours."""
    everywhere = [(-np.inf, np.inf)]
    streams = [ScoredStream(f"positive {i}", "positives", np.asarray(p), np.zeros(len(p)), everywhere, 0.0)
               for i, p in enumerate(pos_probs)]
    streams += [ScoredStream(f"background {i}", "negatives", np.asarray(p), np.zeros(len(p)), [],
                             bg_hours if i == 0 else 0.0) for i, p in enumerate(bg_probs)]
    out = []
    for th, o in curve(sweep_streams(streams, thresholds, make_params)):
        out.append((th, Outcome(o.hits, o.misses, o.false_alarms, bg_hours)))
    return out
