"""``--save-detections DIR``: keep ~2 s of audio around each detection, to collect false alarms.

The last few seconds of audio are kept in a small ring; a detection is written once
``after_s`` more audio has arrived (1.5 s before the trigger, 0.5 s after by default).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("kws.save")


class DetectionSaver:
    def __init__(self, folder: str | Path, sample_rate: int = 16000, before_s: float = 1.5, after_s: float = 0.5):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sr, self.before, self.after = sample_rate, int(before_s * sample_rate), int(after_s * sample_rate)
        self._recent = np.zeros(0, dtype=np.float32)
        self._keep = self.before + self.after + sample_rate  # a margin for block boundaries
        self._pending: list[tuple[object, int]] = []  # (detection, samples still to wait)
        self.saved: list[Path] = []

    def add_block(self, block: np.ndarray) -> None:
        self._recent = np.concatenate([self._recent, block])[-self._keep:]
        still = []
        for det, wait in self._pending:
            wait -= len(block)
            if wait <= 0:
                self._write(det, -wait)
            else:
                still.append((det, wait))
        self._pending = still

    def detection(self, det, samples_since: int = 0) -> None:
        """Register a detection that happened ``samples_since`` samples before the newest audio."""
        self._pending.append((det, self.after - samples_since))

    def _write(self, det, overshoot: int) -> None:
        end = len(self._recent) - overshoot
        clip = self._recent[max(0, end - self.before - self.after): end]
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{det.keyword}-{det.probability:.2f}.wav"
        path = self.folder / name
        try:
            sf.write(str(path), clip, self.sr, subtype="PCM_16")
            self.saved.append(path)
        except (OSError, sf.LibsndfileError) as exc:
            log.error("could not save detection audio to %s: %s", path, exc)

