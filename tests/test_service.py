"""The daemon in-process with a simulated microphone: notify, reload, faults, metrics, saving."""

import json
import logging
import shutil
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from kws.config import load_config
from kws.daemon.notify import Notifier
from kws.daemon.service import Service
from kws.model.detector import shipped_models_dir
from tests.conftest import embed
from tests.fakes import ArraySource
from tests.test_listener import wait_for


@pytest.fixture()
def audio(alexa_test_clips, background_speech):
    return embed(alexa_test_clips[:3], background_speech)[0]


def start(service):
    t = threading.Thread(target=service.run, kwargs={"install_signals": False}, daemon=True)
    t.start()
    return t


def stop(service, thread):
    t0 = time.monotonic()
    service.request_stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - t0 < 2.0


def test_ready_watchdog_and_detections(audio, tmp_path):
    seen = []
    cfg = load_config(None, {"actions": {"chime": False, "json": False}, "save_detections": str(tmp_path / "saved")})
    notifier = Notifier({"WATCHDOG_USEC": "200000"})
    src = ArraySource(audio, realtime=False)
    svc = Service(cfg, source=src, notifier=notifier, callback=seen.append)
    th = start(svc)
    assert wait_for(lambda: src.finished and len(seen) >= 2 and len(svc.saver.saved) >= 2)
    stop(svc, th)
    assert notifier.sent[0] == "READY=1" and "WATCHDOG=1" in notifier.sent and notifier.sent[-1] == "STOPPING=1"
    assert svc.metrics.detections["alexa"] == len(seen)
    clip, sr = sf.read(svc.saver.saved[0])
    assert sr == 16000 and abs(len(clip) / sr - 2.0) < 0.05 and np.abs(clip).max() > 0.01


def test_reload_rejects_bad_config_and_corrupt_model_then_accepts_good(audio, tmp_path, caplog):
    model = tmp_path / "m.onnx"
    shutil.copy(shipped_models_dir() / "alexa.onnx", model)
    shutil.copy(shipped_models_dir() / "alexa.json", tmp_path / "m.json")
    cfg_path = tmp_path / "kws.yaml"
    cfg_path.write_text(f"models: [{model}]\nactions: {{chime: false, json: false}}\n")
    cfg = load_config(cfg_path)
    src = ArraySource(np.tile(audio, 3))
    svc = Service(cfg, config_path=cfg_path, source=src)
    th = start(svc)
    old = svc.listener.spotter
    with caplog.at_level(logging.INFO, logger="kws.service"):
        cfg_path.write_text("trigger: {refractory_s: -4}\n")
        assert svc.reload() is False
        cfg_path.write_text(f"models: [{model}]\nactions: {{chime: false, json: false}}\n")
        model.write_bytes(b"garbage" * 100)
        assert svc.reload() is False
        assert svc.listener.spotter is old and th.is_alive()
        shutil.copy(shipped_models_dir() / "alexa.onnx", model)
        cfg_path.write_text(f"models: [{{path: {model}, threshold: 0.9}}]\nactions: {{chime: false, json: false}}\n")
        assert svc.reload() is True
    assert svc.listener.spotter is not old and svc.listener.spotter.triggers[0].params.threshold == 0.9
    rejected = [r.getMessage() for r in caplog.records if "reload rejected" in r.getMessage()]
    assert len(rejected) == 2 and "refractory_s" in rejected[0] and "sha256" in rejected[1]
    assert svc.metrics.reload_failures == 2
    blocks = svc.listener.blocks
    assert wait_for(lambda: svc.listener.blocks > blocks)  # still listening
    stop(svc, th)


def test_failing_and_hanging_actions_and_failing_source_keep_it_listening(audio, caplog):
    def boom(d):
        raise RuntimeError("action exploded")

    cfg = load_config(None, {"actions": {"chime": False, "json": False, "timeout_s": 0.2,
                                         "command": [sys.executable, "-c", "import time; time.sleep(10)"]}})
    src = ArraySource(audio, fail_after_blocks=20)
    svc = Service(cfg, source=src, callback=boom)
    svc.listener.max_backoff_s = 0.05
    th = start(svc)
    with caplog.at_level(logging.ERROR):
        assert wait_for(lambda: src.finished and svc.listener.detections >= 2, timeout=60)
        assert wait_for(lambda: svc.runner.failures >= 2, timeout=10)
    assert src.opens == 2 and th.is_alive()
    text = caplog.text
    assert "action exploded" in text and "device unplugged" in text and "still running after 0.18 s; killed" in text
    stop(svc, th)


def test_metrics_endpoint_on_loopback(audio):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = load_config(None, {"actions": {"chime": False, "json": False}, "metrics_port": port})
    src = ArraySource(audio)
    svc = Service(cfg, source=src)
    th = start(svc)
    assert wait_for(lambda: src.finished and svc.listener.detections >= 2)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    stop(svc, th)
    assert 'kws_detections_total{keyword="alexa"}' in body
    assert "kws_block_processing_seconds_sum" in body and "kws_overruns_total 0" in body


def test_json_action_prints_one_line_per_detection(audio, capsys):
    cfg = load_config(None, {"actions": {"chime": False, "json": True}})
    src = ArraySource(audio)
    svc = Service(cfg, source=src)
    th = start(svc)
    assert wait_for(lambda: src.finished and svc.listener.detections >= 2)
    svc.runner.drain()
    stop(svc, th)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == svc.listener.detections and lines[0]["keyword"] == "alexa"


def test_meter_shows_level_and_probability_against_threshold():
    from rich.console import Console

    from kws.cli.meter import Meter

    svc = Service(load_config(None, {"actions": {"chime": False, "json": False}}),
                  source=ArraySource(np.zeros(16000, np.float32)))
    svc.last_level_db = -32.0
    svc.listener.spotter.last_probability["alexa"] = 0.5
    console = Console(width=100, record=True)
    console.print(Meter(svc).render())
    text = console.export_text()
    assert "-32.0 dBFS" in text and "alexa" in text and "0.500" in text and "thr 0.99" in text
