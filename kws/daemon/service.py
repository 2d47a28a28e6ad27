"""``kws listen`` as a long-running service.

Main thread: signals, reloads, systemd notifications, the optional meter.  Listener
thread: audio -> Spotter.  Action threads: what happens on a detection.  SIGTERM/SIGINT
stop within a second or two; SIGHUP re-reads the config and models and swaps them in
without reopening the microphone, or keeps the running ones if anything in the new ones
fails.  When ``kws listen`` runs in a terminal, SIGHUP is the terminal closing: it stops.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
import time
from typing import Callable

from kws.actions import ActionRunner, actions_from_config
from kws.config import load_config
from kws.daemon.metrics import Metrics, serve
from kws.daemon.notify import Notifier
from kws.daemon.saver import DetectionSaver
from kws.errors import KwsError
from kws.listener import Listener
from kws.pipeline import spotter_from_config

log = logging.getLogger("kws.service")


def hangup_means_stop(environ=os.environ, stdin_fd: int = 0) -> bool:
    """In a terminal, SIGHUP says the terminal went away; under systemd it is `systemctl reload`."""
    if environ.get("INVOCATION_ID") or environ.get("NOTIFY_SOCKET"):
        return False
    try:
        return os.isatty(stdin_fd)
    except OSError:
        return False


def describe_models(spotter) -> str:
    return ", ".join(f"{m.keyword} (threshold {t.params.threshold:g}, {t.params.consecutive} in a row)"
                     for m, t in zip(spotter.models, spotter.triggers))


class Service:
    """``meter``: called with the Service, returns an object with start/update/stop (the CLI's view)."""

    def __init__(self, cfg, config_path=None, overrides=None, threshold: float | None = None,
                 meter: Callable | None = None, source=None, notifier: Notifier | None = None, callback=None):
        self.cfg, self.config_path, self.overrides = cfg, config_path, dict(overrides or {})
        self.threshold = threshold  # -t: re-applied to every model at each reload
        self.meter_factory, self.callback = meter, callback
        self.metrics = Metrics()
        self.notifier = notifier or Notifier()
        self.stop_event = threading.Event()
        self._reload_requested = threading.Event()
        spotter = spotter_from_config(cfg)
        if source is None:
            from kws.audio.capture import MicrophoneSource
            source = MicrophoneSource(cfg.audio.device, spotter.sample_rate, cfg.audio.block_ms, cfg.audio.ring_s)
            source.prepare()
        self.source = source
        self.saver = self._make_saver(cfg, spotter.sample_rate)
        self._saver_swaps: queue.SimpleQueue = queue.SimpleQueue()  # reload -> listener thread
        self.runner = self._make_runner(cfg)
        self.listener = Listener(spotter, self._on_detection, source=source, on_block=self._on_block)
        self.last_level_db = -120.0
        self._samples_in = 0
        self._hangup_stops = False
        self._server = None

    def _make_runner(self, cfg) -> ActionRunner:
        return ActionRunner(actions_from_config(cfg.actions, self.callback), timeout_s=cfg.actions.timeout_s)

    @staticmethod
    def _make_saver(cfg, sample_rate: int):
        return DetectionSaver(cfg.save_detections, sample_rate) if cfg.save_detections else None

    # -- called on the listener thread -------------------------------------------------
    def _on_detection(self, det) -> None:
        self.metrics.detection(det.keyword)
        log.info("detected %s at %.2f s (p=%.3f)", det.keyword, det.time_s, det.probability)
        if self.saver:
            self.saver.detection(det)
        self.runner.submit(det)

    def _on_block(self, block, seconds: float) -> None:
        import numpy as np

        self.metrics.block(len(block), seconds)
        self.metrics.overruns = getattr(self.source, "overruns", 0)
        self.metrics.action_failures = self.runner.failures
        self.metrics.action_skips = self.runner.skipped
        if len(block):
            self.last_level_db = float(10 * np.log10(np.mean(np.square(block, dtype=np.float64)) + 1e-12))
        while not self._saver_swaps.empty():  # swapped here, between blocks, so its clock is exact
            new = self._saver_swaps.get()
            if new is not None:
                new.samples_in = self._samples_in
            self.saver = new
        if self.saver:
            self.saver.add_block(block)
        self._samples_in += len(block)  # the stream clock that detections' sample_index counts on

    # -- main thread -----------------------------------------------------------------
    def request_stop(self, *_):
        self.stop_event.set()

    def request_reload(self, *_):
        self._reload_requested.set()

    def _on_sighup(self, *_):
        if self._hangup_stops:
            log.info("terminal closed (SIGHUP); stopping")
            self.request_stop()
        else:
            self.request_reload()

    def reload(self) -> bool:
        """Swap in a freshly read config and models; keep the old ones if anything is wrong."""
        self.metrics.reloads += 1
        built = []
        try:
            cfg = load_config(self.config_path, self.overrides, threshold=self.threshold)
            spotter = spotter_from_config(cfg)
            runner = self._make_runner(cfg)
            built.append(runner)
            saver = self._make_saver(cfg, spotter.sample_rate) if cfg.save_detections != self.cfg.save_detections \
                else self.saver
            server = self._server
            if cfg.metrics_port != self.cfg.metrics_port:
                server = serve(self.metrics, cfg.metrics_port) if cfg.metrics_port else None
                built.append(server)
        except Exception as exc:  # a reload must never take the daemon down (bad model, sidecar, callback …)
            for thing in filter(None, built):
                _close(thing)
            self.metrics.reload_failures += 1
            log.error("reload rejected, keeping the running config: %s", _one_line(exc))
            return False
        if cfg.audio != self.cfg.audio:
            log.warning("reload: audio settings changed; they take effect at the next restart")
        if cfg.log_level.upper() != self.cfg.log_level.upper():
            logging.getLogger().setLevel(cfg.log_level.upper())
            log.info("reload: log level %s", cfg.log_level.upper())
        if saver is not self.saver:
            self._saver_swaps.put(saver)
            log.info("reload: saving detections %s", f"to {cfg.save_detections}" if saver else "no more")
        if server is not self._server:
            if self._server:
                _close(self._server)
            self._server = server
            log.info("reload: metrics %s", f"on 127.0.0.1:{cfg.metrics_port}" if server else "off")
        old_runner, self.runner, self.cfg = self.runner, runner, cfg
        self.listener.swap_spotter(spotter)
        old_runner.close(timeout=0.1, end_running=False)
        log.info("reloaded config and %d model(s): %s", len(spotter.models), describe_models(spotter))
        return True

    def run(self, install_signals: bool = True) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            self._hangup_stops = hangup_means_stop()
            signal.signal(signal.SIGHUP, self._on_sighup)
        self._server = serve(self.metrics, self.cfg.metrics_port) if self.cfg.metrics_port else None
        log.info("models: %s", describe_models(self.listener.spotter))
        meter = self.meter_factory(self) if self.meter_factory else None
        # Type=notify: ready once the pipeline is built; waiting for a microphone is a state, not a failure.
        self.notifier.ready()
        self.listener.start()
        if meter:
            meter.start()
        try:
            while not self.stop_event.wait(0.1) and self.listener.failure is None:
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self.reload()
                self.metrics.reopens = self.listener.reopens
                self.notifier.status(self.listener.status)
                if self.listener.healthy():
                    self.notifier.watchdog()
                if meter:
                    meter.update()
        finally:
            self.notifier.stopping()
            if meter:
                try:
                    meter.stop()
                except OSError:  # the terminal is gone (hang-up): nothing to restore
                    pass
            self.listener.stop()
            self.listener.join(timeout=1.5)
            self.runner.close(timeout=0.3)
            if self._server:
                _close(self._server)
            log.info("stopped after %d blocks, %d detections", self.listener.blocks, self.listener.detections)
            sys.stderr.flush()
        if self.listener.failure is not None:  # exit non-zero, so that systemd restarts the service
            raise KwsError(f"listening stopped: {_one_line(self.listener.failure)}")


def _close(thing) -> None:
    if isinstance(thing, ActionRunner):
        thing.close(timeout=0.1)
    else:  # the metrics server: stop serving and free the port
        thing.shutdown()
        thing.server_close()


def _one_line(exc: Exception) -> str:
    """A KwsError says what is wrong already; anything else is named by its type."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return text if isinstance(exc, KwsError) else f"{type(exc).__name__}: {text}"
