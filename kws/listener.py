"""Listen on a microphone and call a function on each detection, surviving device loss.

``Listener`` ties a source (the microphone, or any object with open/read/close) to a
Spotter and an ActionRunner.  When the source fails or goes silent (an unplugged USB
microphone, a PortAudio error), it logs, closes, and reopens with exponential backoff;
waits are sleeps, never a spin.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from kws.errors import KwsError
from kws.spotter import Detection, Spotter

log = logging.getLogger("kws.listen")


class Listener:
    """
    >>> from kws import Spotter, Listener
    >>> Listener(Spotter.from_models(["alexa"]), print).run()   # Ctrl-C to stop
    """

    def __init__(self, spotter: Spotter, on_detection: Callable[[Detection], None], source=None,
                 stall_s: float = 3.0, max_backoff_s: float = 30.0,
                 on_block: Callable[[np.ndarray, float], None] | None = None):
        if source is None:
            from kws.audio.capture import MicrophoneSource
            source = MicrophoneSource()
        self.spotter, self.on_detection, self.source = spotter, on_detection, source
        self.stall_s, self.max_backoff_s = stall_s, max_backoff_s
        self.on_block = on_block  # called with (samples, processing seconds) after each block
        self.stop_event = threading.Event()
        self.blocks = 0
        self.detections = 0
        self.reopens = 0
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None  # what ended the thread started by start(), if anything did
        self._lock = threading.Lock()  # held while a block is processed; reload swaps under it
        self.status = "starting"  # what the loop is doing, for STATUS= and the logs
        self._beat_at = time.monotonic()  # the loop's last sign of life (see healthy)
        self.healthy_within_s = max(10.0, 3 * stall_s)

    def swap_spotter(self, spotter: Spotter) -> None:
        """Swap between two blocks; the new Spotter carries on the stream's clock."""
        with self._lock:
            spotter.continue_clock(self.spotter.samples_seen)
            self.spotter = spotter

    def stop(self) -> None:
        self.stop_event.set()

    def start(self) -> "Listener":
        self._thread = threading.Thread(target=self._run_in_thread, name="kws-listener", daemon=True)
        self._thread.start()
        return self

    def _run_in_thread(self) -> None:
        """run(), keeping what ended it in ``failure`` for the owner (the service exits on it)."""
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 -- handed on, not swallowed
            self.failure = exc
            self.stop_event.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread:
            self._thread.join(timeout)

    def healthy(self) -> bool:
        """The loop made progress lately: it read audio, or is waiting for a device on purpose.

        The daemon feeds systemd's watchdog only while this holds, so a hung pipeline is
        restarted but a microphone outage is not."""
        alive = self._thread is None or self._thread.is_alive()
        return alive and time.monotonic() - self._beat_at < self.healthy_within_s

    def _set_status(self, status: str) -> None:
        self.status = status
        self._beat_at = time.monotonic()

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` (True if stopped meanwhile), still counting as alive."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._beat_at = time.monotonic()
            if self.stop_event.wait(min(left, 1.0)):
                return True
        return self.stop_event.is_set()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            self._set_status("opening audio device")
            try:
                self.source.open()
            except Exception as exc:  # KwsError, and PortAudio's plain exceptions
                reason = str(exc) if isinstance(exc, KwsError) else f"audio input failed to open: {exc}"
                log.error("%s; retrying in %.0f s", reason, backoff)
                self._set_status(f"waiting for audio device: {reason}")
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            log.info("listening")
            self._set_status("listening")
            try:
                if self._pump():
                    backoff = 1.0  # it worked for a while: start the backoff afresh
            finally:
                self.source.close()
            if not self.stop_event.is_set():
                self.reopens += 1
                log.warning("audio input lost; reopening in %.0f s", backoff)
                self._set_status(f"waiting for audio device: input lost, reopening in {backoff:.0f} s")
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff_s)

    def _pump(self) -> bool:
        """Process blocks until stopped or the source fails; True if any audio arrived."""
        got_audio, silent_since = False, time.monotonic()
        while not self.stop_event.is_set():
            self._beat_at = time.monotonic()
            try:
                block = self.source.read(timeout=0.5)
            except Exception as exc:
                log.error("audio input failed: %s", exc)
                return got_audio
            if block is None:
                alive = getattr(self.source, "is_alive", lambda: True)()
                if not alive or time.monotonic() - silent_since > self.stall_s:
                    log.error("audio input stalled (no samples for %.1f s)", time.monotonic() - silent_since)
                    return got_audio
                continue
            got_audio, silent_since = True, time.monotonic()
            t0 = time.perf_counter()
            with self._lock:
                detections = self.spotter.process(block)
            for d in detections:
                self.detections += 1
                try:
                    self.on_detection(d)
                except Exception as exc:  # the handler is user code; listening goes on
                    log.error("detection handler failed: %s: %s", type(exc).__name__, exc)
            self.blocks += 1
            if self.on_block:
                self.on_block(block, time.perf_counter() - t0)
        return got_audio
