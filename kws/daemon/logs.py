"""Logging to stderr (stdout carries JSON lines).  Under systemd, journald stamps each line
itself, so our own timestamp is dropped there to avoid printing it twice."""

from __future__ import annotations

import logging
import os
import sys


def under_systemd() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


def configure(level: str = "INFO") -> None:
    fmt = "%(levelname)s %(name)s: %(message)s" if under_systemd() else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level.upper())
