"""End to end through a real audio stack: PulseAudio with a virtual sink and microphone.

`kws listen` runs as a real process on the virtual microphone (PortAudio -> ALSA pulse
plugin -> PulseAudio); a recording is played into the sink with paplay.  .ci/run installs
pulseaudio, pulseaudio-utils and libasound2-plugins.  Also: READY=1 over a real
NOTIFY_SOCKET, SIGHUP with a bad config, and SIGTERM stopping within 2 s.
"""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, SR, copy_model, embed

pytestmark = pytest.mark.skipif(shutil.which("pulseaudio") is None and not os.environ.get("CI"),
                                reason="pulseaudio not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    d = tmp_path_factory.mktemp("pulse")
    env = dict(os.environ, PULSE_RUNTIME_PATH=str(d / "run"), HOME=str(d))
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
         "-L", "module-native-protocol-unix",
         "-L", "module-null-sink sink_name=virt_sink rate=16000 channels=1",
         "-L", "module-remap-source master=virt_sink.monitor source_name=virt_mic",
         "--log-target=stderr"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("PulseAudio did not start: " + proc.stderr.read().decode()[-500:])
    subprocess.run(["pactl", "set-default-source", "virt_mic"], env=env, check=True)
    yield env
    proc.terminate()
    proc.wait(5)


class Daemon:
    def __init__(self, env, cfg_path, tmp_path, extra_env=None):
        self.notify_path = str(tmp_path / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        self.sock.settimeout(0.2)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kws.cli.main", "listen", "--config", str(cfg_path), "--device", "pulse"],
            cwd=REPO, env=dict(env, NOTIFY_SOCKET=self.notify_path, PYTHONUNBUFFERED="1", **(extra_env or {})),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.log.append), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line.rstrip("\n"))

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if b"READY=1" in self.sock.recv(4096):
                    return True
            except socket.timeout:
                if self.proc.poll() is not None:
                    return False
        return False

    def wait_log(self, text, count=1, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if sum(text in line for line in self.log) >= count:
                return True
            time.sleep(0.05)
        return sum(text in line for line in self.log) >= count

    def detections(self, wait_s):
        out, end = [], time.monotonic() + wait_s
        while time.monotonic() < end:
            try:
                out.append(json.loads(self.lines.get(timeout=0.1)))
            except queue.Empty:
                pass
        return out


def play(env, audio, path):
    sf.write(path, audio, SR, subtype="PCM_16")
    subprocess.run(["paplay", "--device=virt_sink", str(path)], env=env, check=True, timeout=120)


def test_listen_on_a_virtual_microphone(pulse, tmp_path, alexa_test_clips, background_speech, room_noise):
    cfg = tmp_path / "kws.yaml"
    cfg.write_text("actions: {chime: false, json: true}\n")
    d = Daemon(pulse, cfg, tmp_path)
    try:
        assert d.wait_ready(), "\n".join(d.log)
        with_kw, _ = embed(alexa_test_clips[:2], background_speech[: 20 * SR], gap_s=2.0)
        t0 = time.monotonic()
        play(pulse, with_kw, tmp_path / "kw.wav")
        found = d.detections(wait_s=3.0)
        assert len(found) >= 1 and found[0]["keyword"] == "alexa", "\n".join(d.log)
        assert time.monotonic() - t0 < len(with_kw) / SR + 5

        play(pulse, np.concatenate([background_speech[60 * SR: 68 * SR], room_noise[: 8 * SR]]), tmp_path / "none.wav")
        assert d.detections(wait_s=1.5) == []

        cfg.write_text("trigger: {mode: sometimes}\n")  # a bad config on SIGHUP is rejected
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert d.proc.poll() is None and any("reload rejected" in line for line in d.log)

        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0 and time.monotonic() - t0 < 2.0
        assert not any("Traceback" in line for line in d.log), "\n".join(d.log)
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
        d.sock.close()


def test_a_reload_that_fails_in_any_way_keeps_the_daemon_detecting(pulse, tmp_path, alexa_test_clips,
                                                                   background_speech):
    from kws.model.detector import shipped_models_dir
    model = copy_model(tmp_path)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(sidecar))
    (tmp_path / "badcb.py").write_text("def on_wake(d)\n    pass\n")  # a SyntaxError
    cfg = tmp_path / "kws.yaml"
    good = f"models: [{model}]\nactions: {{chime: false, json: true}}\n"
    cfg.write_text(good)
    d = Daemon(pulse, cfg, tmp_path, extra_env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    try:
        assert d.wait_ready(), "\n".join(d.log)
        breakages = [lambda: (tmp_path / "m.json").write_text(json.dumps(dict(sidecar, threshold=2.0))),
                     lambda: (tmp_path / "m.json").write_text(json.dumps(dict(sidecar, frames_per_step=0))),
                     lambda: ((tmp_path / "m.json").write_text(json.dumps(sidecar)),
                              cfg.write_text(good.replace("json: true}", "json: true, callback: 'badcb:on_wake'}")))]
        for n, break_it in enumerate(breakages, 1):
            break_it()
            d.proc.send_signal(signal.SIGHUP)
            assert d.wait_log("reload rejected", count=n), "\n".join(d.log)
            assert d.proc.poll() is None, "\n".join(d.log)
        with_kw, _ = embed(alexa_test_clips[:2], background_speech[: 20 * SR], gap_s=2.0)
        play(pulse, with_kw, tmp_path / "kw.wav")
        found = d.detections(wait_s=3.0)
        assert found and found[0]["keyword"] == "alexa", "\n".join(d.log)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
        assert not any("Traceback" in line for line in d.log), "\n".join(d.log)
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
        d.sock.close()


def test_meter_draws_in_a_terminal(pulse, tmp_path, alexa_test_clips, background_speech):
    """`kws listen --meter` on a pseudo-terminal, fed through the virtual microphone."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: kws listen with the pty as its terminal
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "kws.cli.main", "listen", "--meter", "--no-chime",
                                   "--no-json", "--device", "pulse"], dict(pulse, TERM="xterm-256color"))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out = bytearray()

    def read_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out.extend(os.read(fd, 65536))
                except OSError:
                    return

    try:
        read_for(8)
        with_kw, _ = embed(alexa_test_clips[:2], background_speech[: 20 * SR], gap_s=2.0)
        sf.write(tmp_path / "kw.wav", with_kw, SR, subtype="PCM_16")
        player = subprocess.Popen(["paplay", "--device=virt_sink", str(tmp_path / "kw.wav")], env=pulse)
        while player.poll() is None:
            read_for(0.5)
        read_for(2)
    finally:
        os.kill(pid, signal.SIGINT)
        read_for(2)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    levels = [float(x) for x in re.findall(r"(-?\d+\.\d) dBFS", text)]
    from kws.model import KeywordModel
    thr = f"{KeywordModel('alexa').threshold:.2f}"  # the shipped model's (its stage's) threshold, as the meter shows it
    # The peak column: a cascade scores only the steps where its detector fired, which the
    # latest-step value shown a few times a second rarely catches.
    probabilities = [float(x) for x in re.findall(r"\d\.\d{3} \(peak (\d\.\d\d), thr " + re.escape(thr) + r"\)", text)]
    assert "input level" in text and "alexa" in text, text[-2000:]
    assert levels and max(levels) > -60, levels  # the played speech reached the meter
    assert probabilities and max(probabilities) > 0.5, probabilities[-20:]  # and so did the keyword
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not available")
    from kws.daemon.install import install
    install(tmp_path / "units", tmp_path / "etc", start=False, kws_executable=shutil.which("kws") or sys.executable,
            force=True)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "units" / "kws.service")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "units" / "kws.service").read_text()
    for key in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes", "SupplementaryGroups=audio",
                "ProtectSystem=strict", "ProtectHome=", "PrivateTmp=yes", "NoNewPrivileges=yes",
                "RestrictAddressFamilies=", "MemoryMax="):
        assert key in unit
    assert (tmp_path / "etc" / "kws.yaml").is_file()
