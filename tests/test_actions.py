import io
import json
import logging
import sys
import threading
import time

import pytest

from kws.actions import ActionRunner, CallbackAction, CommandAction, JsonLineAction
from kws.errors import KwsError
from kws.spotter import Detection

DET = Detection("alexa", 12.345, 0.9876)


def test_json_line():
    buf = io.StringIO()
    JsonLineAction(buf)(DET)
    assert json.loads(buf.getvalue()) == {"keyword": "alexa", "time_s": 12.345, "probability": 0.9876}


def test_command_gets_the_detection_and_no_shell(tmp_path):
    out = tmp_path / "out.txt"
    code = f"import os; open({str(out)!r}, 'w').write(os.environ['KWS_KEYWORD'] + ' ' + os.environ['KWS_TIME'])"
    CommandAction([sys.executable, "-c", code, "; rm -rf /"])(DET)  # the ';' is just an argument
    assert out.read_text() == "alexa 12.345"


def test_command_failure_raises():
    with pytest.raises(RuntimeError, match="exited with 3"):
        CommandAction([sys.executable, "-c", "import sys; sys.exit(3)"])(DET)


def test_callback_by_name():
    action = CallbackAction("tests.test_actions:_record")
    action(DET)
    assert _seen[-1] is DET
    with pytest.raises(KwsError, match="cannot load"):
        CallbackAction("tests.nothing_here:f")


_seen = []


def _record(d):
    _seen.append(d)


def test_raising_and_hanging_actions_never_stop_the_runner(caplog):
    seen = []

    def boom(d):
        raise ValueError("kaboom")

    def hang(d):
        time.sleep(5)

    runner = ActionRunner([CallbackAction(boom), CallbackAction(hang), CallbackAction(seen.append)], timeout_s=0.2)
    with caplog.at_level(logging.ERROR, logger="kws.actions"):
        t0 = time.monotonic()
        runner.submit(DET)
        assert time.monotonic() - t0 < 0.05  # submit never blocks the audio path
        runner.submit(DET)
        runner.drain(timeout=5)
    assert seen == [DET, DET]
    assert runner.failures == 3 and runner.skipped == 1
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("kaboom" in m for m in msgs) == 2
    assert sum("still running" in m for m in msgs) == 1  # the second detection finds it still busy:
    assert sum("hang still busy with an earlier detection; skipped" in m for m in msgs) == 1
    runner.close()


def test_a_callback_that_never_returns_does_not_add_a_thread_per_detection():
    release = threading.Event()
    seen = []
    runner = ActionRunner([CallbackAction(lambda d: release.wait()), CallbackAction(seen.append)], timeout_s=0.05)
    runner.submit(DET)
    runner.drain(timeout=5)
    after_first = threading.active_count()  # the runner and one worker per action, one of them hung
    for _ in range(29):
        runner.submit(DET)
        runner.drain(timeout=5)
    assert len(seen) == 30  # the other action still ran every time
    assert threading.active_count() <= after_first  # (other tests' threads may end meanwhile)
    assert runner.skipped == 29 and runner.failures == 1
    release.set()
    runner.close()


def test_hung_command_is_killed():
    runner = ActionRunner([CommandAction([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.3)],
                          timeout_s=2)
    t0 = time.monotonic()
    runner.submit(DET)
    runner.drain(timeout=5)
    assert time.monotonic() - t0 < 2 and runner.failures == 1


def test_close_ends_a_command_still_running_and_what_it_started(tmp_path):
    pids = tmp_path / "pids"
    # the command starts a child of its own: both must end, not be orphaned
    script = f"sleep 60 & echo $$ $! > {pids}; wait"
    runner = ActionRunner([CommandAction(["sh", "-c", script], timeout_s=60)], timeout_s=60)
    runner.submit(DET)
    deadline = time.monotonic() + 10
    while not (pids.exists() and len(pids.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    shell, sleeper = map(int, pids.read_text().split())
    runner.close(timeout=0.1)
    deadline = time.monotonic() + 5  # signals are asynchronous: give the kernel a moment
    while (_running(shell) or _running(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(shell) and not _running(sleeper)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
