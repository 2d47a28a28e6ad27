"""Screening synthetic positives (kws.train.tts.screen): pocketsphinx's spotter hears a word in
real recordings of it and not in recordings of other words or in speech without it."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pocketsphinx", reason="screening needs the screen extra")

from kws.train.data import make_utterance  # noqa: E402
from kws.train.tts.screen import Screener, screen_positives  # noqa: E402

DATA = Path(__file__).parent / "data"


def _alexa_clips():
    return [sf.read(p, dtype="float32")[0] for p in sorted((DATA / "alexa").glob("*.flac"))]


def test_the_spotter_hears_alexa_in_its_recordings_and_not_other_words():
    clips = _alexa_clips()
    assert sum(Screener(["alexa"]).hears(c) for c in clips) >= len(clips) - 2
    for other in ("voyager", "think engine", "jarvis"):
        assert sum(Screener([other]).hears(c) for c in clips) <= 1, other


def test_the_spotter_does_not_hear_alexa_in_speech_without_it():
    speech, sr = sf.read(DATA / "background" / "asterisk_en_005_70s.ogg", dtype="float32")
    screener = Screener(["alexa"])
    assert sum(screener.hears(speech[i * sr:(i + 1) * sr]) for i in range(len(speech) // sr)) <= 1


def test_screening_drops_what_it_does_not_hear_and_counts_per_engine():
    clips = _alexa_clips()[:4]
    silence = np.zeros(16000, np.float32)
    utts = [make_utterance(f"tts/espeak-ng:en/{i}", c, "alexa") for i, c in enumerate(clips)]
    utts += [make_utterance(f"tts/kokoro:af_bella/{i}", silence, "alexa") for i in range(3)]
    kept, summary = screen_positives(utts, ["alexa"], log=lambda m: None)
    assert [u.source for u in kept] == [u.source for u in utts[:4]]
    assert summary["dropped_by_engine"] == {"espeak-ng": [0, 4], "kokoro": [3, 3]}


def test_a_phrase_outside_the_dictionary_keeps_every_clip_and_says_why():
    utts = [make_utterance("tts/espeak-ng:en/0", np.zeros(16000, np.float32), "onword")]
    said = []
    kept, summary = screen_positives(utts, ["onword"], log=said.append)
    assert kept == utts and summary == {"screened": False, "not_in_dictionary": ["onword"]}
    assert len(said) == 1 and "onword" in said[0] and "dictionary" in said[0]
