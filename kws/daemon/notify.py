"""sd_notify without a dependency: READY=1, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time


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
        self.sent: list[str] = []

    def send(self, message: str) -> None:
        self.sent.append(message)
        if not self.addr:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(message.encode(), self.addr)
            except OSError:
                pass  # systemd gone (e.g. during shutdown): nothing useful to do

    def ready(self) -> None:
        self.send("READY=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def watchdog(self) -> None:
        """Called from the processing loop: a stalled loop stops pinging and gets restarted."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.send("WATCHDOG=1")
