import json
import shutil

import numpy as np
import pytest

from kws.errors import KwsError
from kws.filemode import run_audio
from kws.frontend import LogMel
from kws.model import KeywordModel
from kws.model.detector import shipped_models_dir
from kws.spotter import Spotter
from tests.conftest import copy_model, embed


def test_step_by_step_equals_whole(shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:3], background_speech)
    feats = LogMel()(audio)
    feats = feats[: len(feats) - len(feats) % shipped_model.frames_per_step]
    whole, _ = shipped_model.run(feats, shipped_model.initial_state())
    stream = shipped_model.stream()
    k = shipped_model.frames_per_step
    stepwise = np.concatenate([stream.push(feats[i:i + k]) for i in range(0, len(feats), k)])
    odd = shipped_model.stream()  # pieces that are not multiples of a step
    ragged = np.concatenate([odd.push(feats[i:i + 7]) for i in range(0, len(feats), 7)])
    assert np.max(np.abs(stepwise - whole)) <= 1e-5
    assert np.max(np.abs(ragged - whole)) <= 1e-5
    assert whole.max() > 0.5  # the real clips are in there: not a flat output


def test_spotter_results_do_not_depend_on_chunking(shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:4], background_speech)
    spotter = Spotter([shipped_model])
    dets_a, probs_a = run_audio(spotter, audio)
    spotter.reset()
    dets_b, probs_b = [], []
    for i in range(0, len(audio), 160):
        d, p = spotter.process_scores(audio[i:i + 160])
        dets_b += d
        probs_b.append(p[0])
    probs_b = np.concatenate(probs_b)
    n = len(probs_b)
    assert np.max(np.abs(probs_a[0][:n] - probs_b)) <= 1e-5
    assert [(d.keyword, d.time_s) for d in dets_a] == [(d.keyword, d.time_s) for d in dets_b]
    assert len(dets_a) >= 3


def test_several_models_share_one_front_end(shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:2], background_speech)
    other = KeywordModel("hey_computer")
    _, (a, b) = run_audio(Spotter([shipped_model, other]), audio)
    _, (alone_a,) = run_audio(Spotter([shipped_model]), audio)
    _, (alone_b,) = run_audio(Spotter([other]), audio)
    assert np.array_equal(a, alone_a) and np.array_equal(b, alone_b)


@pytest.fixture()
def model_copy(tmp_path):
    return copy_model(tmp_path)


def test_missing_model_names_the_path(tmp_path):
    with pytest.raises(KwsError, match=str(tmp_path / "nope.onnx")):
        KeywordModel(tmp_path / "nope.onnx")
    with pytest.raises(KwsError, match="no shipped model"):
        KeywordModel("no_such_word")


def test_hash_mismatch_refused(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[-10] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(KwsError, match="sha256"):
        KeywordModel(model_copy)


def test_missing_sidecar_refused(model_copy):
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(KwsError, match="sidecar"):
        KeywordModel(model_copy)


def test_front_end_mismatch_refused(model_copy):
    side = model_copy.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["frontend"]["n_mels"] = 64
    side.write_text(json.dumps(meta))
    with pytest.raises(KwsError, match="n_mels"):
        KeywordModel(model_copy)


def test_garbage_model_with_matching_hash_refused(model_copy):
    import hashlib
    model_copy.write_bytes(b"not an onnx graph")
    side = model_copy.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["onnx_sha256"] = hashlib.sha256(b"not an onnx graph").hexdigest()
    side.write_text(json.dumps(meta))
    with pytest.raises(KwsError, match="onnxruntime cannot load"):
        KeywordModel(model_copy)


def test_shipped_model_is_small_and_described():
    d = shipped_models_dir()
    meta = json.loads((d / "alexa.json").read_text())
    assert (d / "alexa.onnx").stat().st_size + (d / "alexa.json").stat().st_size <= 1_000_000
    assert (d / meta["second_stage"]["head"]).stat().st_size <= 500_000  # a few hundred kB at most
    assert meta["keyword"] == "alexa" and 0 < meta["threshold"] < 1


def test_step_clock_first_step_after_is_the_first_step_that_has_seen_the_sample():
    from kws.frontend import FrontendParams
    from kws.model.clock import StepClock

    clock = StepClock(FrontendParams(), 3)
    assert clock.step_samples == 480 and abs(clock.step_s - 0.03) < 1e-12 and clock.steps_in(1.5) == 50
    for sample in [0, 1, 399, 400, 401, 879, 880, 881, 16000, 123457]:
        j = clock.first_step_after(sample)
        assert clock.step_end_sample(j) >= sample
        assert j == 0 or clock.step_end_sample(j - 1) < sample
    times = clock.step_end_time(np.arange(3))
    assert np.allclose(times, [c / 16000 for c in (400, 880, 1360)])


def test_spotter_peak_holds_the_highest_recent_score_for_the_meter(alexa_test_clips, room_noise):
    spotter = Spotter([KeywordModel("alexa", stage="gru")])
    audio, _ = embed(alexa_test_clips[:1], np.resize(room_noise, 16000 * 6) * 0.3)
    best, peaks = 0.0, []
    for i in range(0, len(audio) - 1600 + 1, 1600):
        _, (p,) = spotter.process_scores(audio[i:i + 1600])
        best = max(best * 0.99 ** len(p), float(p.max()) if p.size else 0.0)
        peaks.append(spotter.peak_probability["alexa"])
        assert abs(peaks[-1] - best) < 1e-6 and peaks[-1] >= spotter.last_probability["alexa"]
    assert max(peaks) > 0.9 and peaks[-1] < max(peaks)  # the word's score, then decaying
