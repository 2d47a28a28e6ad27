import numpy as np

from kws.eval.scoring import Outcome, match, miss_at_fa, sweep
from kws.eval.streams import background_stream, keyword_stream
from kws.trigger import TriggerParams


def test_match_hits_misses_and_false_alarms():
    labels = [(1.0, 3.0), (10.0, 12.0), (20.0, 22.0)]
    hits, misses, fa = match(np.array([2.0, 2.5, 5.0, 12.0, 30.0]), labels)
    assert (hits, misses, fa) == (2, 1, 2)  # two in window 1 count once; 12.0 is on the edge


def test_outcome_arithmetic():
    o = Outcome(hits=9, misses=1, false_alarms=3, hours=2.0)
    assert o.miss_rate == 0.1 and o.fa_per_hour == 1.5


def test_sweep_on_synthetic_scores():
    step = 0.03
    times = np.arange(1000) * step
    kw = np.zeros(1000)
    kw[100:110] = 0.9   # hit for label 1 (3.0 .. 4.0 s)
    kw[500:505] = 0.6   # weak hit for label 2 (15.0 .. 16.0)
    labels = [(2.5, 4.0), (14.5, 16.0), (25.0, 26.0)]  # label 3 never fires
    bg = np.zeros(120_000)  # one hour of 30 ms steps
    bg[[1000, 50_000]] = 0.95
    bg[[1001, 50_001]] = 0.95
    bg[90_000:90_002] = 0.7
    curve = sweep(kw, times, labels, bg, 1.0, np.array([0.5, 0.8]),
                  lambda th: TriggerParams(threshold=th, consecutive=2, refractory_steps=50))
    (t1, o1), (t2, o2) = curve
    assert (o1.hits, o1.misses, o1.false_alarms) == (2, 1, 3)
    assert (o2.hits, o2.misses, o2.false_alarms) == (1, 2, 2)
    assert abs(o2.fa_per_hour - 2 / (1.0 + 1000 * step / 3600)) < 1e-9
    assert miss_at_fa(curve, 2.5) == (o2.miss_rate, 0.8)
    assert miss_at_fa(curve, 0.1) == (1.0, None)


def test_refractory_counts_a_burst_once():
    step = 0.03
    kw = np.zeros(200)
    labels = [(0.0, 0.1)]
    bg = np.zeros(1000)
    bg[100:140] = 0.9  # 40 high steps = 1.2 s, under a 1.5 s refractory period
    (_, o), = sweep(kw, np.arange(200) * step, labels, bg, 1.0, np.array([0.5]),
                    lambda th: TriggerParams(threshold=th, consecutive=3, refractory_steps=50))
    assert o.false_alarms == 1


def test_streams_have_labels_where_clips_are():
    rng = np.random.default_rng(0)
    clips = [np.full(8000, 0.3, np.float32) for _ in range(3)]
    speech = [rng.standard_normal(16000 * 30).astype(np.float32) * 0.01]
    s = keyword_stream(clips, speech, speech, snr_db=10, seed=1)
    assert len(s.labels) == 3
    for a, b in s.labels:
        seg = s.audio[int(a * 16000) + 100: int(a * 16000) + 7900]
        assert abs(np.median(seg) - 0.3) < 0.05  # the clip really is there
        assert abs((b - a) - (0.5 + 1.0)) < 1e-6  # clip length + 1 s tail
    bg = background_stream(speech, hours=0.02, seed=0)
    assert bg.hours >= 0.02 and bg.labels == []
    short, long_ = np.full(16000, 0.1, np.float32), np.full(16000 * 200, 0.2, np.float32)
    bg = background_stream([long_, short], hours=0.01, seed=0)  # 36 s asked, 201 s given
    assert len(bg.audio) == len(short) + len(long_)  # nothing is cut away, the short one is in


def test_det_points_keep_the_best_miss_rate_per_false_alarm_rate():
    from kws.eval.scoring import det_points
    # (miss, fa) per threshold, unordered, with a dominated point (0.5 miss at 2 FA/h)
    pts = det_points([(0.9, 0.0), (0.4, 1.0), (0.5, 2.0), (0.1, 5.0), (0.6, 0.5)])
    assert pts == [(0.0, 0.9), (0.5, 0.6), (1.0, 0.4), (5.0, 0.1)]
