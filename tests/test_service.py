"""The daemon in-process with a simulated microphone: notify, reload, faults, metrics, saving."""

import json
import logging
import os
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
from tests.conftest import copy_model, embed
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
    assert wait_for(lambda: src.finished and len(seen) >= 2 and len(svc.saver.saved) >= 2
                    and notifier.counts["WATCHDOG"] >= 1)
    stop(svc, th)
    assert notifier.sent[0] == "READY=1" and "STATUS=listening" in notifier.sent
    assert "WATCHDOG=1" in notifier.sent and notifier.sent[-1] == "STOPPING=1"
    assert svc.metrics.detections["alexa"] == len(seen)
    clip, sr = sf.read(svc.saver.saved[0])
    assert sr == 16000 and abs(len(clip) / sr - 2.0) < 0.05 and np.abs(clip).max() > 0.01


def test_reload_rejects_bad_config_and_corrupt_model_then_accepts_good(audio, tmp_path, caplog):
    model = copy_model(tmp_path)
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
    assert "kws_actions_skipped_total 0" in body


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


def test_watchdog_is_fed_and_status_told_while_waiting_for_a_microphone(audio, tmp_path):
    """Booting without a microphone, or an outage: READY at once, WATCHDOG=1 all along, STATUS= says why."""
    import socket
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(10)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        src = ArraySource(audio, fail_opens=2)  # unavailable for the 1 s + 2 s of backoff
        svc = Service(load_config(None, {"actions": {"chime": False, "json": False}}), source=src, notifier=notifier)
        th = start(svc)
        got, deadline = [], time.monotonic() + 30
        while "STATUS=listening" not in got and time.monotonic() < deadline:
            got.append(sock.recv(4096).decode())
        stop(svc, th)
    assert "STATUS=listening" in got, got[:5]
    assert got[0] == "READY=1" and src.opens == 1
    waiting = [m for m in got if m.startswith("STATUS=waiting for audio device:")]
    assert waiting and "device unavailable" in waiting[0]
    outage = got[got.index(waiting[0]):got.index("STATUS=listening")]
    assert outage.count("WATCHDOG=1") >= 10  # 3 s of outage, a ping due every 0.1 s


def test_no_watchdog_when_the_listener_is_stuck(audio):
    """The watchdog is fed only while the audio loop makes progress: a hung pipeline gets restarted."""
    hang = threading.Event()

    class StuckSource(ArraySource):
        def read(self, timeout=1.0):
            hang.wait()
            return super().read(timeout)

    notifier = Notifier({"WATCHDOG_USEC": "200000"})
    svc = Service(load_config(None, {"actions": {"chime": False, "json": False}}),
                  source=StuckSource(audio), notifier=notifier)
    svc.listener.healthy_within_s = 0.5
    th = start(svc)
    assert wait_for(lambda: notifier.counts["WATCHDOG"] >= 1)
    time.sleep(0.6)  # past healthy_within_s: no more pings from here on
    pings = notifier.counts["WATCHDOG"]
    time.sleep(0.5)
    assert notifier.counts["WATCHDOG"] == pings
    hang.set()
    stop(svc, th)


def test_notifier_keeps_counts_and_the_last_few_messages():
    notifier = Notifier({"WATCHDOG_USEC": "1"})  # every call pings
    notifier.ready()
    for _ in range(10_000):
        notifier._last_ping = 0.0
        notifier.watchdog()
    assert notifier.counts["WATCHDOG"] == 10_000 and notifier.counts["READY"] == 1
    assert len(notifier.sent) <= 16 and notifier.sent[-1] == "WATCHDOG=1"


def test_reload_applies_log_level_save_detections_and_metrics_port(audio, tmp_path, caplog):
    import socket
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cfg_path = tmp_path / "kws.yaml"
    base = "actions: {chime: false, json: false}\n"
    cfg_path.write_text(base + f"metrics_port: {ports[0]}\n")
    src = ArraySource(np.tile(audio, 4), realtime=True, block=1600 * 4)
    svc = Service(load_config(cfg_path), config_path=cfg_path, source=src)
    root = logging.getLogger()
    level = root.level
    th = start(svc)
    try:
        assert wait_for(lambda: svc._server is not None)
        urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/metrics", timeout=5).read()
        cfg_path.write_text(base + f"metrics_port: {ports[1]}\nlog_level: DEBUG\nsave_detections: {tmp_path / 'saved'}\n")
        with caplog.at_level(logging.INFO, logger="kws.service"):
            assert svc.reload() is True
        assert root.level == logging.DEBUG
        body = urllib.request.urlopen(f"http://127.0.0.1:{ports[1]}/metrics", timeout=5).read().decode()
        assert "kws_reloads_total 1" in body
        with pytest.raises(OSError):  # the old port is closed
            urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/metrics", timeout=5)
        assert wait_for(lambda: svc.saver is not None and len(svc.saver.saved) >= 1, timeout=60)
        clip, sr = sf.read(svc.saver.saved[0])  # the new saver is on the stream's clock: the word is in it
        assert abs(len(clip) / sr - 2.0) < 0.05 and np.abs(clip).max() > 0.05
        assert "reload: saving detections to" in caplog.text and "reload: metrics on 127.0.0.1" in caplog.text
    finally:
        root.setLevel(level)
        stop(svc, th)


def test_reload_keeps_the_running_pipeline_on_any_failure(audio, tmp_path, caplog):
    """A sidecar the new Spotter cannot use, a callback module that does not compile, a port in use."""
    model = copy_model(tmp_path)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "badcb.py").write_text("def on_wake(d)\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    cfg_path = tmp_path / "kws.yaml"
    good = f"models: [{model}]\nactions: {{chime: false, json: false}}\n"
    cfg_path.write_text(good)
    (tmp_path / "m.json").write_text(json.dumps(sidecar))
    src = ArraySource(np.tile(audio, 3))
    svc = Service(load_config(cfg_path), config_path=cfg_path, source=src)
    th = start(svc)
    old = svc.listener.spotter
    try:
        with caplog.at_level(logging.ERROR, logger="kws.service"):
            for field, value in (("threshold", 2.0), ("frames_per_step", 0)):
                (tmp_path / "m.json").write_text(json.dumps(dict(sidecar, **{field: value})))
                assert svc.reload() is False
            (tmp_path / "m.json").write_text(json.dumps(sidecar))
            cfg_path.write_text(good.replace("json: false}", "json: false, callback: 'badcb:on_wake'}"))
            assert svc.reload() is False
        assert svc.listener.spotter is old and th.is_alive()
        rejected = [r.getMessage() for r in caplog.records if "reload rejected" in r.getMessage()]
        assert len(rejected) == 3 and "SyntaxError" in rejected[2]
        assert all(len(m.splitlines()) == 1 for m in rejected)
        detections = svc.listener.detections
        assert wait_for(lambda: svc.listener.detections > detections, timeout=60)  # still detecting
    finally:
        sys.path.remove(str(tmp_path))
        stop(svc, th)


def test_stopping_ends_a_command_still_running(audio, tmp_path):
    pid_file = tmp_path / "pid"
    cfg = load_config(None, {"actions": {"chime": False, "json": False, "timeout_s": 60,
                                         "command": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]}})
    svc = Service(cfg, source=ArraySource(audio))
    th = start(svc)
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60)
    pid = int(pid_file.read_text())
    stop(svc, th)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"


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
    thr = svc.listener.spotter.models[0].threshold  # the shipped model's threshold (its stage's: cascade)
    assert "-32.0 dBFS" in text and "alexa" in text and "0.500" in text and f"thr {thr:.2f}" in text
