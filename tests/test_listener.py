"""The listening loop with a simulated device: detections, recovery from device loss."""

import logging
import time

import numpy as np

from kws.filemode import run_audio
from kws.listener import Listener
from kws.spotter import Spotter
from tests.conftest import embed
from tests.fakes import ArraySource


def wait_for(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_listener_equals_file_mode(shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:4], background_speech)
    expected, _ = run_audio(Spotter([shipped_model]), audio, tail_pad_s=0)
    got = []
    src = ArraySource(audio, block=1600)
    listener = Listener(Spotter([shipped_model]), got.append, source=src).start()
    assert wait_for(lambda: src.finished)
    time.sleep(0.2)
    listener.stop()
    listener.join(2)
    assert [(d.keyword, d.time_s) for d in got] == [(d.keyword, d.time_s) for d in expected]
    assert len(got) >= 3


def test_recovers_when_the_device_fails_to_open_and_mid_stream(shipped_model, alexa_test_clips,
                                                               background_speech, caplog):
    audio, _ = embed(alexa_test_clips[:3], background_speech)
    got = []
    src = ArraySource(audio, fail_opens=2, fail_after_blocks=5)
    listener = Listener(Spotter([shipped_model]), got.append, source=src, max_backoff_s=0.05)
    listener_backoff_start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="kws.listen"):
        listener.start()
        assert wait_for(lambda: src.finished and len(got) >= 2)
        listener.stop()
        listener.join(3)
    assert src.opens == 2 and src.open_attempts == 4  # two failed opens, then a reopen after the unplug
    assert listener.reopens == 1
    text = caplog.text
    assert "device unavailable" in text and "device unplugged" in text and "reopening" in text
    assert time.monotonic() - listener_backoff_start < 30


def test_stalled_source_is_reopened_without_spinning(shipped_model):
    src = ArraySource(np.zeros(1600, np.float32), loop_silence=False)
    listener = Listener(Spotter([shipped_model]), lambda d: None, source=src, stall_s=0.3, max_backoff_s=0.1)
    listener.start()
    assert wait_for(lambda: src.opens >= 2, timeout=10)
    listener.stop()
    listener.join(3)
    assert src.opens < 20  # backoff, not a tight loop


def test_a_failing_detection_handler_does_not_stop_listening(shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:3], background_speech)
    calls = []

    def handler(d):
        calls.append(d)
        raise RuntimeError("user bug")

    src = ArraySource(audio)
    listener = Listener(Spotter([shipped_model]), handler, source=src).start()
    assert wait_for(lambda: src.finished)
    time.sleep(0.2)
    listener.stop()
    listener.join(2)
    assert len(calls) >= 2


def test_detections_carry_their_sample_index_and_a_swapped_spotter_keeps_the_clock(
        shipped_model, alexa_test_clips, background_speech):
    audio, _ = embed(alexa_test_clips[:4], background_speech)
    expected, _ = run_audio(Spotter([shipped_model]), audio, tail_pad_s=0)
    assert all(d.sample_index == round(d.time_s * 16000) for d in expected)
    split = (expected[0].sample_index + 16000) // 1600 * 1600  # between two words
    first = Spotter([shipped_model])
    first.process(audio[:split])
    second = Spotter([shipped_model])  # what a reload does between two blocks
    second.continue_clock(first.samples_seen)
    later = second.process(audio[split:])
    alone = Spotter([shipped_model]).process(audio[split:])  # the same audio on a clock from 0
    assert later and [d.sample_index for d in later] == [d.sample_index + split for d in alone]
    assert [d.time_s for d in later] == [(d.sample_index + split) / 16000 for d in alone]
