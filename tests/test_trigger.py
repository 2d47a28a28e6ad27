import numpy as np
import pytest

from kws.eval.scoring import trigger_fires
from kws.trigger import Trigger, TriggerParams


def fires(params, probs):
    t = Trigger(params)
    return [i for i, p in enumerate(probs) if t.update(p) is not None]


def test_needs_k_consecutive_steps():
    p = TriggerParams(threshold=0.5, consecutive=3, refractory_steps=0)
    assert fires(p, [0.6, 0.6, 0.4, 0.6, 0.6]) == []
    assert fires(p, [0.6, 0.6, 0.6]) == [2]


def test_threshold_is_inclusive():
    assert fires(TriggerParams(threshold=0.5, consecutive=1, refractory_steps=0), [0.5, 0.4999]) == [0]


def test_refractory_gives_one_detection_per_utterance():
    p = TriggerParams(threshold=0.5, consecutive=2, refractory_steps=5)
    probs = [0.9] * 12
    # fires at 1; steps 2..6 ignored; needs 2 fresh steps (7, 8): fires at 8
    assert fires(p, probs) == [1, 8]


def test_refractory_zero_fires_again_after_k_more():
    assert fires(TriggerParams(threshold=0.5, consecutive=2, refractory_steps=0), [0.9] * 6) == [1, 3, 5]


def test_empty_and_all_low():
    p = TriggerParams()
    assert fires(p, []) == []
    assert fires(p, [0.0] * 100) == []


def test_mean_mode():
    p = TriggerParams(threshold=0.5, mode="mean", window=4, refractory_steps=0)
    assert fires(p, [1.0, 0.0, 1.0, 0.0]) == [3]  # mean 0.5
    assert fires(p, [1.0, 0.0, 0.9, 0.0]) == []


def test_score_reported_is_peak_of_the_run():
    t = Trigger(TriggerParams(threshold=0.5, consecutive=3, refractory_steps=0))
    assert [t.update(x) for x in (0.6, 0.9, 0.7)] == [None, None, 0.9]


def test_reset_forgets_partial_runs_and_refractory():
    t = Trigger(TriggerParams(threshold=0.5, consecutive=2, refractory_steps=100))
    t.update(0.9)
    t.reset()
    assert t.update(0.9) is None
    assert t.update(0.9) is not None
    t.reset()
    assert [t.update(0.9) for _ in range(2)][-1] is not None


@pytest.mark.parametrize("bad", [dict(threshold=1.5), dict(consecutive=0), dict(refractory_steps=-1),
                                 dict(mode="max"), dict(window=0)])
def test_invalid_params_rejected(bad):
    with pytest.raises(ValueError):
        TriggerParams(**bad)


@pytest.mark.parametrize("mode", ["consecutive", "mean"])
def test_vectorised_sweep_equals_trigger(mode):
    rng = np.random.default_rng(3)
    for trial in range(30):
        probs = np.clip(rng.random(400) ** 3 * 1.6, 0, 1)
        p = TriggerParams(threshold=float(rng.uniform(0.2, 0.9)), consecutive=int(rng.integers(1, 5)),
                          refractory_steps=int(rng.integers(0, 30)), mode=mode, window=int(rng.integers(1, 6)))
        assert list(trigger_fires(probs, p)) == fires(p, probs)
