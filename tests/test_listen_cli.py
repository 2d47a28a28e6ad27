"""`kws listen` as a real process, with no sound server at all: start-up errors are one line
and exit 2, -t keeps each model's settings, and SIGHUP means stop in a terminal, reload
elsewhere.  (With no microphone the daemon waits for one, which is enough for these.)
"""

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO, needs_portaudio

pytestmark = needs_portaudio

# No PulseAudio server to reach: PortAudio finds no input device, whatever this machine has running.
NO_AUDIO = dict(os.environ, PULSE_SERVER="unix:/nonexistent/pulse/native", PYTHONUNBUFFERED="1")
LISTEN = [sys.executable, "-m", "kws.cli.main", "listen", "--no-chime"]


def listen(*args, env=NO_AUDIO, timeout=60):
    """Run `kws listen` that is expected to exit by itself."""
    try:
        return subprocess.run([*LISTEN, *map(str, args)], capture_output=True, text=True, cwd=REPO,
                              env=env, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"kws listen {args} kept running: {exc.stderr}")


def one_line_error(r, expected):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("kws: error:")]
    assert len(errors) == 1 and expected in errors[0], r.stderr


def test_a_device_name_that_matches_nothing_is_an_error_not_an_endless_retry():
    one_line_error(listen("--device", "nosuchmic"), "audio device 'nosuchmic': no input device name contains it")


def test_save_detections_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    one_line_error(listen("--save-detections", tmp_path / "file" / "saved"),
                   f"save_detections {tmp_path / 'file' / 'saved'}: cannot create the folder")


def test_metrics_port_already_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(listen("--metrics-port", port), f"metrics_port {port}: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("source, expected", [
    ("raise RuntimeError('no config for my hook')\n", "RuntimeError: no config for my hook"),
    ("def on_wake(d)\n    pass\n", "SyntaxError"),
    (None, "ModuleNotFoundError"),
])
def test_a_callback_module_that_cannot_be_imported(tmp_path, source, expected):
    if source is not None:
        (tmp_path / "myhook.py").write_text(source)
    r = listen("--callback", "myhook:on_wake", env=dict(NO_AUDIO, PYTHONPATH=f"{tmp_path}:{REPO}"))
    one_line_error(r, f"callback 'myhook:on_wake': cannot load it ({expected}")


class Running:
    """`kws listen` left running (it waits for a microphone); stderr collected as it comes."""

    def __init__(self, args, env=NO_AUDIO):
        self.proc = subprocess.Popen([*LISTEN, *map(str, args)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if text in self.log:
                return True
            time.sleep(0.05)
        return text in self.log

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(10)


def test_threshold_flag_keeps_each_models_consecutive_also_after_a_reload(tmp_path):
    cfg = tmp_path / "kws.yaml"
    cfg.write_text("models: [{path: alexa, consecutive: 7}]\n")
    d = Running(["-c", cfg, "-t", "0.5"])
    try:
        assert d.wait_for("models: alexa (threshold 0.5, 7 in a row)"), d.log
        cfg.write_text("models: [{path: alexa, consecutive: 9}]\n")
        d.proc.send_signal(signal.SIGHUP)  # stdin is not a terminal: SIGHUP is a reload
        assert d.wait_for("reloaded config and 1 model(s): alexa (threshold 0.5, 9 in a row)"), d.log
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0
    assert "Traceback" not in d.log


def test_detect_and_listen_apply_threshold_by_the_same_rule(tmp_path):
    from kws.config import load_config
    from kws.pipeline import spotter_from_config

    cfg = tmp_path / "kws.yaml"
    cfg.write_text("models: [{path: alexa, consecutive: 7}]\n")
    as_detect = spotter_from_config(load_config(cfg), (), 0.5)  # kws detect -t 0.5
    as_listen = spotter_from_config(load_config(cfg, threshold=0.5))  # kws listen -t 0.5
    for s in (as_detect, as_listen):
        assert (s.triggers[0].params.threshold, s.triggers[0].params.consecutive) == (0.5, 7)


def test_closing_the_terminal_stops_kws_listen():
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its controlling terminal
        os.chdir(REPO)
        env = {k: v for k, v in NO_AUDIO.items() if k not in ("INVOCATION_ID", "NOTIFY_SOCKET")}
        os.execve(sys.executable, [*LISTEN, "--no-json"], env)
    out, end = b"", time.monotonic() + 60
    running = (b"retrying in", b"kws.listen: listening")  # signal handlers are in place by then
    while not any(m in out for m in running) and time.monotonic() < end:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    assert any(m in out for m in running), out
    os.close(fd)  # the terminal hangs up: the kernel sends SIGHUP
    end = time.monotonic() + 10
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("kws listen kept running after its terminal closed")
    assert os.WIFEXITED(status), status


def test_the_daemon_does_not_import_the_command_line():
    """The CLI hands its meter to the Service; the daemon stays usable without kws.cli."""
    code = "import sys, kws.daemon.service; sys.exit([m for m in sys.modules if m.startswith('kws.cli')] != [])"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
