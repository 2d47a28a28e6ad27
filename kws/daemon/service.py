"""``kws listen`` as a long-running service.

Main thread: signals, reloads, the optional meter.  Listener thread: audio -> Spotter.
Action thread: what happens on a detection.  SIGTERM/SIGINT stop within a second or
two; SIGHUP re-reads the config and models and swaps them in without reopening the
microphone, or keeps the running ones if the new ones are bad.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from kws.actions import ActionRunner, actions_from_config
from kws.config import load_config
from kws.daemon.metrics import Metrics, serve
from kws.daemon.notify import Notifier
from kws.daemon.saver import DetectionSaver
from kws.errors import KwsError
from kws.listener import Listener
from kws.spotter import spotter_from_config

log = logging.getLogger("kws.service")


class Service:
    def __init__(self, cfg, config_path=None, overrides=None, meter: bool = False, source=None,
                 notifier: Notifier | None = None, callback=None):
        self.cfg, self.config_path, self.overrides = cfg, config_path, dict(overrides or {})
        self.meter, self.callback = meter, callback
        self.metrics = Metrics()
        self.notifier = notifier or Notifier()
        self.stop_event = threading.Event()
        self._reload_requested = threading.Event()
        spotter = spotter_from_config(cfg)
        self.runner = self._make_runner(cfg)
        if source is None:
            from kws.audio.capture import MicrophoneSource
            source = MicrophoneSource(cfg.audio.device, spotter.sample_rate, cfg.audio.block_ms, cfg.audio.ring_s)
        self.source = source
        self.saver = DetectionSaver(cfg.save_detections, spotter.sample_rate) if cfg.save_detections else None
        self.listener = Listener(spotter, self._on_detection, source=source, on_block=self._on_block)
        self._ready = False
        self.last_level_db = -120.0

    def _make_runner(self, cfg) -> ActionRunner:
        return ActionRunner(actions_from_config(cfg.actions, self.callback), timeout_s=cfg.actions.timeout_s)

    # -- called on the listener thread -------------------------------------------------
    def _on_detection(self, det) -> None:
        self.metrics.detection(det.keyword)
        log.info("detected %s at %.2f s (p=%.3f)", det.keyword, det.time_s, det.probability)
        if self.saver:
            spotter = self.listener.spotter
            self.saver.detection(det, max(0, spotter.samples_seen - int(det.time_s * spotter.sample_rate)))
        self.runner.submit(det)

    def _on_block(self, block, seconds: float) -> None:
        import numpy as np

        self.metrics.block(len(block), seconds)
        self.metrics.overruns = getattr(self.source, "overruns", 0)
        self.metrics.action_failures = self.runner.failures
        self.last_level_db = float(10 * np.log10(np.mean(np.square(block, dtype=np.float64)) + 1e-12))
        if self.saver:
            self.saver.add_block(block)
        if not self._ready:
            self._ready = True
            self.notifier.ready()  # systemd Type=notify: ready once real audio went through
        self.notifier.watchdog()

    # -- main thread -----------------------------------------------------------------
    def request_stop(self, *_):
        self.stop_event.set()

    def request_reload(self, *_):
        self._reload_requested.set()

    def reload(self) -> bool:
        """Swap in a freshly read config and models; keep the old ones if anything is wrong."""
        self.metrics.reloads += 1
        try:
            cfg = load_config(self.config_path, self.overrides)
            spotter = spotter_from_config(cfg)
            runner = self._make_runner(cfg)
        except KwsError as exc:
            self.metrics.reload_failures += 1
            log.error("reload rejected, keeping the running config: %s", exc)
            return False
        if cfg.audio != self.cfg.audio:
            log.warning("reload: audio settings changed; they take effect at the next restart")
        old_runner, self.runner, self.cfg = self.runner, runner, cfg
        self.listener.swap_spotter(spotter)
        old_runner.close(timeout=0.1)
        log.info("reloaded config and %d model(s)", len(spotter.models))
        return True

    def run(self, install_signals: bool = True) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGHUP, self.request_reload)
        server = serve(self.metrics, self.cfg.metrics_port) if self.cfg.metrics_port else None
        self.listener.start()
        meter = None
        if self.meter:
            from kws.cli.meter import Meter
            meter = Meter(self)
            meter.start()
        try:
            while not self.stop_event.wait(0.1):
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self.reload()
                self.metrics.reopens = self.listener.reopens
                if meter:
                    meter.update()
        finally:
            self.notifier.stopping()
            if meter:
                meter.stop()
            self.listener.stop()
            self.listener.join(timeout=1.5)
            self.runner.close(timeout=0.3)
            if server:
                server.shutdown()
            log.info("stopped after %d blocks, %d detections", self.listener.blocks, self.listener.detections)
            time.sleep(0)  # let log handlers flush in order
