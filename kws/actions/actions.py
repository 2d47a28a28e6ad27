"""Detection actions and the runner that keeps them away from the audio path.

The audio worker only puts a Detection on a queue.  One runner thread takes it and hands
it to each action's own worker thread, waiting at most ``timeout_s``: an action that
raises is logged; one that hangs is logged and abandoned, and while it is still busy its
later detections are skipped (logged and counted) instead of piling up threads.  A
command's process is killed at its time limit and ended when the runner closes.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence

from kws.errors import KwsError
from kws.spotter import Detection

log = logging.getLogger("kws.actions")


class Action:
    name = "action"

    def __call__(self, detection: Detection) -> None:
        raise NotImplementedError


class JsonLineAction(Action):
    name = "json"

    def __init__(self, stream=None):
        self.stream = stream

    def __call__(self, detection: Detection) -> None:
        out = self.stream or sys.stdout
        out.write(json.dumps(detection.to_dict()) + "\n")
        out.flush()


class ChimeAction(Action):
    name = "chime"

    def __call__(self, detection: Detection) -> None:
        import sounddevice as sd

        from kws.actions.chime import SR, chime

        sd.play(chime(), SR, blocking=True)


class CommandAction(Action):
    """Run an argument list (never through a shell); the detection is in KWS_* variables."""

    name = "command"
    kills_itself = True  # its own time limit ends the process; the runner waits for that to report

    def __init__(self, argv: Sequence[str], timeout_s: float = 10.0):
        self.argv, self.timeout_s = list(argv), timeout_s
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def __call__(self, detection: Detection) -> None:
        env = dict(os.environ, KWS_KEYWORD=detection.keyword, KWS_TIME=f"{detection.time_s:.3f}",
                   KWS_PROBABILITY=f"{detection.probability:.4f}")
        # Its own process group, so that ending it also ends whatever it started.
        proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        with self._lock:
            self._running.add(proc)
        try:
            _, stderr = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _end(proc, grace_s=0)  # at once: the runner stops waiting only a little later
            raise RuntimeError(f"still running after {self.timeout_s:.2f} s; killed") from None
        finally:
            with self._lock:
                self._running.discard(proc)
        if proc.returncode:
            raise RuntimeError(f"exited with {proc.returncode}: {stderr.decode(errors='replace')[-200:].strip()}")

    def close(self) -> None:
        """End the commands still running (at shutdown): none is left behind as an orphan."""
        with self._lock:
            running = list(self._running)
        for proc in running:
            _end(proc)


def _end(proc: subprocess.Popen, grace_s: float = 1.0) -> None:
    """SIGTERM to the command's process group (skipped when ``grace_s`` is 0); after ``grace_s``,
    or once the command itself has exited, SIGKILL to whatever is left of the group."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        if sig == signal.SIGTERM and not grace_s:
            continue
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass
    proc.poll()  # reap it if it has ended


class CallbackAction(Action):
    name = "callback"

    def __init__(self, target: str | Callable[[Detection], object]):
        self.func = load_callable(target) if isinstance(target, str) else target
        self.name = f"callback {target if isinstance(target, str) else getattr(target, '__name__', target)}"

    def __call__(self, detection: Detection) -> None:
        self.func(detection)


def load_callable(spec: str) -> Callable:
    module_name, _, attr = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # missing, or its import raised anything (SyntaxError, its own errors)
        raise KwsError(f"callback {spec!r}: cannot load it ({type(exc).__name__}: {exc})") from None
    if not callable(func):
        raise KwsError(f"callback {spec!r}: not callable")
    return func


KILL_GRACE_S = 1.0


class _Call:
    def __init__(self, detection: Detection):
        self.detection = detection
        self.done = threading.Event()
        self.error: BaseException | None = None


class _ActionWorker:
    """One daemon thread per action: a hung action blocks itself only and never adds threads."""

    def __init__(self, action: Action):
        self.action = action
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._current: _Call | None = None
        threading.Thread(target=self._loop, name=f"kws-action-{action.name}", daemon=True).start()

    @property
    def busy(self) -> bool:
        return self._current is not None and not self._current.done.is_set()

    def start(self, detection: Detection) -> _Call:
        self._current = _Call(detection)
        self._calls.put(self._current)
        return self._current

    def stop(self, end_running: bool = True) -> None:
        self._calls.put(None)
        close = getattr(self.action, "close", None)
        if end_running and close:
            close()

    def _loop(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                self.action(call.detection)
            except BaseException as exc:  # an action must never take the daemon down
                call.error = exc
            finally:
                call.done.set()


class ActionRunner:
    def __init__(self, actions: Sequence[Action], timeout_s: float = 10.0, max_queue: int = 32):
        self.actions = list(actions)
        self.timeout_s = timeout_s
        self.failures = 0
        self.skipped = 0  # actions not run because the same action was still busy
        self._workers = [_ActionWorker(a) for a in self.actions]
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, name="kws-actions", daemon=True)
        self._thread.start()

    def submit(self, detection: Detection) -> None:
        """Never blocks the caller: a full queue drops the detection's actions with a log line."""
        try:
            self._queue.put_nowait(detection)
        except queue.Full:
            self.skipped += len(self.actions)
            log.warning("actions are falling behind; skipped actions for %s at %.2f s",
                        detection.keyword, detection.time_s)

    def close(self, timeout: float = 1.0, end_running: bool = True) -> None:
        """Stop taking detections; with ``end_running`` (shutdown) also end running commands, so
        that no child process is left behind.  A reload lets the old runner's actions finish."""
        self._queue.put(None)
        self._thread.join(timeout)
        for w in self._workers:
            w.stop(end_running)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every submitted detection has been handled (for file mode and tests)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._run_all(item)

    def _run_all(self, detection: Detection) -> None:
        """The actions of one detection run side by side (a slow chime never delays the JSON line)."""
        calls = []
        for w in self._workers:
            if w.busy:
                self.skipped += 1
                log.error("action %s still busy with an earlier detection; skipped for %s at %.2f s",
                          w.action.name, detection.keyword, detection.time_s)
            else:
                calls.append((w.action, w.start(detection)))
        start = time.monotonic()
        for action, call in calls:
            # an action that kills itself at its limit gets a moment more to say so
            deadline = start + self.timeout_s + (KILL_GRACE_S if getattr(action, "kills_itself", False) else 0.0)
            if not call.done.wait(max(0.0, deadline - time.monotonic())):
                self.failures += 1
                log.error("action %s still running after %.1f s; abandoned, listening goes on",
                          action.name, self.timeout_s)
            elif call.error is not None:
                self.failures += 1
                exc = call.error
                log.error("action %s failed: %s: %s", action.name, type(exc).__name__, exc)


def actions_from_config(cfg, callback: Callable | None = None) -> list[Action]:
    """Actions named by an ActionsConfig (kws.config), plus an optional Python callable."""
    actions: list[Action] = []
    if cfg.json:
        actions.append(JsonLineAction())
    if cfg.chime:
        actions.append(ChimeAction())
    if cfg.command:
        # killed a little before the runner would abandon it, so no process is left behind
        actions.append(CommandAction(cfg.command, cfg.timeout_s * 0.9))
    if cfg.callback:
        actions.append(CallbackAction(cfg.callback))
    if callback is not None:
        actions.append(CallbackAction(callback))
    return actions
