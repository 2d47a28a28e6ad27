"""sd_notify without a dependency: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter, deque

KEEP_MESSAGES = 16


class Notifier:
    def __init__(self, environ=os.environ):
        addr = environ.get("NOTIFY_SOCKET")
        if addr and addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace socket
        self.addr = addr
        usec = environ.get("WATCHDOG_USEC")
        # Ping at twice the rate systemd asks for, so one late block never trips it.
        self.watchdog_interval = int(usec) / 1e6 / 2 if usec and usec.isdigit() else None
        self._last_ping = 0.0
        # A daemon runs for months and pings every few seconds: keep counts and the last few, not all.
        self.sent: deque[str] = deque(maxlen=KEEP_MESSAGES)
        self.counts: Counter = Counter()  # by field: READY, STATUS, WATCHDOG, STOPPING
        self.status_text: str | None = None

    def send(self, message: str) -> None:
        self.sent.append(message)
        self.counts[message.partition("=")[0]] += 1
        if not self.addr:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(message.encode(), self.addr)
            except OSError:
                pass  # systemd gone (e.g. during shutdown): nothing useful to do

    def ready(self) -> None:
        self.send("READY=1")

    def status(self, text: str) -> None:
        """What `systemctl status` shows; sent only when it changes."""
        if text != self.status_text:
            self.status_text = text
            self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def watchdog(self) -> None:
        """Called while the daemon is healthy: once it stalls, the pings stop and systemd restarts it."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.send("WATCHDOG=1")
