"""Detection actions and the runner that keeps them away from the audio path.

The audio worker only puts a Detection on a queue.  One runner thread takes it and runs
each action in a thread of its own with a time limit: an action that raises is logged,
one that hangs is logged and abandoned (a Python thread cannot be killed; a command's
process is), and listening never waits for either.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
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

    def __init__(self, argv: Sequence[str], timeout_s: float = 10.0):
        self.argv, self.timeout_s = list(argv), timeout_s

    def __call__(self, detection: Detection) -> None:
        env = dict(os.environ, KWS_KEYWORD=detection.keyword, KWS_TIME=f"{detection.time_s:.3f}",
                   KWS_PROBABILITY=f"{detection.probability:.4f}")
        try:
            result = subprocess.run(self.argv, env=env, timeout=self.timeout_s, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"still running after {self.timeout_s:.2f} s; killed") from None
        if result.returncode:
            raise RuntimeError(f"exited with {result.returncode}: {result.stderr.decode(errors='replace')[-200:].strip()}")


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
    except (ImportError, AttributeError) as exc:
        raise KwsError(f"callback {spec!r}: cannot load it ({exc})") from None
    if not callable(func):
        raise KwsError(f"callback {spec!r}: not callable")
    return func


class ActionRunner:
    def __init__(self, actions: Sequence[Action], timeout_s: float = 10.0, max_queue: int = 32):
        self.actions = list(actions)
        self.timeout_s = timeout_s
        self.failures = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, name="kws-actions", daemon=True)
        self._thread.start()

    def submit(self, detection: Detection) -> None:
        """Never blocks the caller: a full queue drops the detection's actions with a log line."""
        try:
            self._queue.put_nowait(detection)
        except queue.Full:
            log.warning("actions are falling behind; skipped actions for %s at %.2f s",
                        detection.keyword, detection.time_s)

    def close(self, timeout: float = 1.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

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
            for action in self.actions:
                self._run_one(action, item)

    def _run_one(self, action: Action, detection: Detection) -> None:
        error: list[BaseException] = []

        def target():
            try:
                action(detection)
            except BaseException as exc:  # an action must never take the daemon down
                error.append(exc)

        t = threading.Thread(target=target, name=f"kws-action-{action.name}", daemon=True)
        t.start()
        t.join(self.timeout_s)
        if t.is_alive():
            self.failures += 1
            log.error("action %s still running after %.1f s; abandoned, listening goes on", action.name, self.timeout_s)
        elif error:
            self.failures += 1
            exc = error[0]
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
