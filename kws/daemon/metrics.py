"""Counters for the daemon, and an optional Prometheus text endpoint on 127.0.0.1."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kws.errors import KwsError


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self.detections: Counter = Counter()
        self.blocks = 0
        self.block_seconds_sum = 0.0
        self.block_seconds_max = 0.0
        self.audio_seconds = 0.0
        self.overruns = 0
        self.reopens = 0
        self.reloads = 0
        self.reload_failures = 0
        self.action_failures = 0
        self.action_skips = 0  # an action still busy with an earlier detection, or a full queue

    def block(self, samples: int, seconds: float, sample_rate: int = 16000) -> None:
        with self._lock:
            self.blocks += 1
            self.block_seconds_sum += seconds
            self.block_seconds_max = max(self.block_seconds_max, seconds)
            self.audio_seconds += samples / sample_rate

    def detection(self, keyword: str) -> None:
        with self._lock:
            self.detections[keyword] += 1

    def render(self) -> str:
        with self._lock:
            lines = ["# TYPE kws_detections_total counter"]
            lines += [f'kws_detections_total{{keyword="{k}"}} {v}' for k, v in sorted(self.detections.items())]
            for name, kind, value in [
                ("kws_blocks_total", "counter", self.blocks),
                ("kws_audio_seconds_total", "counter", round(self.audio_seconds, 3)),
                ("kws_block_processing_seconds_sum", "counter", round(self.block_seconds_sum, 6)),
                ("kws_block_processing_seconds_max", "gauge", round(self.block_seconds_max, 6)),
                ("kws_overruns_total", "counter", self.overruns),
                ("kws_audio_reopens_total", "counter", self.reopens),
                ("kws_reloads_total", "counter", self.reloads),
                ("kws_reload_failures_total", "counter", self.reload_failures),
                ("kws_action_failures_total", "counter", self.action_failures),
                ("kws_actions_skipped_total", "counter", self.action_skips),
            ]:
                lines += [f"# TYPE {name} {kind}", f"{name} {value}"]
            return "\n".join(lines) + "\n"


def serve(metrics: Metrics, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.rstrip("/") not in ("/metrics", ""):
                self.send_error(404)
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep scrapes out of the journal
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:  # the port is taken, or privileged
        raise KwsError(f"metrics_port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    threading.Thread(target=server.serve_forever, name="kws-metrics", daemon=True).start()
    return server
