"""Text-only training: voices from several offline engines, confusable words, a short run."""

import shutil

import numpy as np
import pytest

pytest.importorskip("torch", reason="training tests need the train extra")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="TTS engines not installed (kws/train/tts/install.sh; .ci/run runs it)")

from kws.errors import KwsError  # noqa: E402
from kws.train.data import content_hash  # noqa: E402
from kws.train.tts.confusables import confusable_texts, keyword_parts, normalise  # noqa: E402
from kws.train.tts.engines import available_voices  # noqa: E402
from kws.train.tts.synth import synthesize  # noqa: E402


def test_requested_number_of_distinct_positives_across_engines():
    utts, engines = synthesize(["hey computer"], 40, seed=3, word="hey computer", log=lambda m: None)
    assert len(utts) == 40
    assert len({content_hash(u.audio) for u in utts}) == 40
    assert len(engines) >= 3, engines  # several engines, not one voice forty times
    for u in utts:
        assert 0.4 <= u.seconds <= 3.0, (u.source, u.seconds)  # trimmed to the phrase; plausible length
        assert u.audio.dtype == np.float32 and np.abs(u.audio).max() <= 1.0


def test_same_seed_same_voices_and_prosody():
    """Same seed, same engine/voice/prosody per clip.  Piper draws its own sampling noise
    inside the ONNX graph, which no seed reaches, so only its clips may differ."""
    a, _ = synthesize(["alexa"], 12, seed=5, log=lambda m: None)
    b, _ = synthesize(["alexa"], 12, seed=5, log=lambda m: None)
    assert [u.source for u in a] == [u.source for u in b]
    fixed = [(x, y) for x, y in zip(a, b) if not x.source.startswith("tts/piper:")]
    assert len(fixed) >= 6
    assert all(content_hash(x.audio) == content_hash(y.audio) for x, y in fixed)


def test_noncommercial_voices_are_opt_in():
    free = [v for _, vs in available_voices(False).values() for v in vs]
    everything = [v for _, vs in available_voices(True).values() for v in vs]
    assert not any(v.noncommercial for v in free)
    assert len(everything) >= len(free)


@pytest.mark.parametrize("keyword", ["hey computer", "alexa"])
def test_confusables_are_not_the_keyword(keyword):
    texts = confusable_texts(keyword, 30)
    assert len(texts) >= 15
    assert all(normalise(t) != keyword for t in texts)
    if keyword == "hey computer":
        assert {"commuter", "compute"} & set(texts)
        assert "computer" in texts  # the second word alone must not fire "hey computer"
    else:
        assert "alex" in keyword_parts("alexa")


def _onward_config(tmp_path, positives: int):
    """A tiny config for "Onword" said as "onward", its clips cached under tmp_path."""
    from kws.train.config import load_train_config

    return load_train_config(None, {"word": "onword", "say": ["onward"], "tts_positives": positives,
                                    "tts_negatives": 6, "tts_confusable_words": 12, "tts_random_words": 20,
                                    "work_dir": str(tmp_path), "tts_cache_dir": str(tmp_path / "tts-cache")})


def _spy_on_synthesize(monkeypatch) -> list:
    """(texts, n) of every synthesize() call from here on, each still synthesised."""
    import kws.train.tts.synth as tts_synth

    read = []

    def spy(texts, n, *args, **kwargs):
        read.append((list(texts), n))
        return synthesize(texts, n, *args, **kwargs)

    monkeypatch.setattr(tts_synth, "synthesize", spy)
    return read


def test_say_gives_the_spoken_form_and_keeps_the_word(monkeypatch, tmp_path):
    """`say` (kws train --say): the synthesisers read "onward" for the brand "Onword"; the clips are
    labelled with the word, and neither spelling comes back as a negative."""
    import kws.train.tts.synth as tts_synth
    from kws.train.config import load_train_config

    read = _spy_on_synthesize(monkeypatch)
    pos, neg, summary = tts_synth.synthesize_positives(_onward_config(tmp_path, 6), log=lambda m: None)
    assert read[0] == (["onward"], 6)  # positives are read as said
    assert {u.word for u in pos["train"] + pos["dev"]} == {"onword"}  # and named after the word
    negative_texts = [normalise(t) for texts, _ in read[1:] for t in texts]
    assert negative_texts and not {"onward", "onword"} & set(negative_texts)
    assert "onwards" in negative_texts  # confusables come from the spoken form
    assert summary["said_as"] == ["onward"]
    with pytest.raises(KwsError, match="say must be a list of non-empty texts"):
        load_train_config(None, {"word": "onword", "say": [""]})


def test_negatives_false_synthesises_positives_only(monkeypatch, tmp_path):
    """A head without the word's synthetic confusables (head.synthetic_negatives: false) asks for
    no negative clips: none are synthesised, and both negative splits are empty."""
    import kws.train.tts.synth as tts_synth

    read = _spy_on_synthesize(monkeypatch)
    pos, neg, summary = tts_synth.synthesize_positives(_onward_config(tmp_path, 4), log=lambda m: None,
                                                       negatives=False)
    assert read == [(["onward"], 4)]
    assert len(pos["train"] + pos["dev"]) == 4 and neg == {"train": [], "dev": [], "test": []}
    assert summary["negatives"] == 0 and summary["random_word_clips"] == 0 and summary["confusable_texts"] == []


@pytest.mark.slow
def test_short_text_only_training_run_learns(tmp_path, data_root):
    from kws.model import KeywordModel
    from kws.train.config import load_train_config
    from kws.train.train import run
    from kws.train.tts.synth import synthesize_positives

    cfg = load_train_config(None, {
        "word": "hey computer", "tts_positives": 240, "tts_negatives": 80, "tts_confusable_words": 20,
        "tts_random_words": 60,
        "out": str(tmp_path / "hey_computer.onnx"), "work_dir": str(tmp_path / "work"),
        "tts_cache_dir": str(tmp_path / "tts-cache"),
        "data.root": str(data_root), "data.keyword": "", "data.max_negatives_per_word": 25,
        "data.max_background_files": 2, "synth.train_clips_per_epoch": 1200, "synth.dev_clips": 200,
        "synth.clip_s": 3.0, "net.conv_channels": 48, "net.gru_hidden": 48, "net.gru_layers": 1,
        "fit.epochs": 8, "fit.lr": 0.005, "fit.mine_from_epoch": 4, "eval.other_words": False, "eval.max_background_files": 2, "eval.snr_db": [10.0]})
    pos, neg, summary = synthesize_positives(cfg, log=lambda m: None)
    result = run(cfg, log=lambda m: None, extra_positives=pos, extra_negatives=neg, tts_summary=summary)
    # held-aside synthetic clips (the dev split of the synthesised positives).  The run learns: its
    # clip AUC rises well above chance.  The epoch it keeps is chosen by the dev streams' miss rate,
    # not by AUC, and Piper's sampling noise is not seeded, so that epoch's AUC only has to be
    # clearly above chance (0.70 in one clean-clone CI run, at least 0.75 in the others).
    aucs = [h["dev_auc"] for h in result["fit"]["history"]]
    assert max(aucs) >= 0.75 and max(aucs) >= aucs[0] + 0.15, aucs
    assert result["fit"]["dev_auc"] >= 0.62, aucs
    assert KeywordModel(tmp_path / "hey_computer.onnx").keyword == "hey computer"
    assert "Synthetic speech" in (tmp_path / "hey_computer-report.md").read_text()
