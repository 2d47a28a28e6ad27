"""``--save-detections DIR``: keep ~2 s of audio around each detection, to collect false alarms.

The last few seconds of audio are kept in a small ring; a detection is written once
``after_s`` more audio has arrived (1.5 s before the trigger, 0.5 s after by default).
Detections are placed by their ``sample_index``, so the saver must see the same blocks,
on the same clock, as the Spotter that made them (``samples_in``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from kws.errors import KwsError

log = logging.getLogger("kws.save")


class DetectionSaver:
    def __init__(self, folder: str | Path, sample_rate: int = 16000, before_s: float = 1.5, after_s: float = 0.5,
                 samples_in: int = 0):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a regular file in the way, no permission, read-only file system
            raise KwsError(f"save_detections {self.folder}: cannot create the folder "
                           f"({exc.strerror or exc})") from None
        self.sr, self.before, self.after = sample_rate, int(before_s * sample_rate), int(after_s * sample_rate)
        self.samples_in = samples_in  # the stream clock at the end of the newest block
        self._recent = np.zeros(0, dtype=np.float32)
        self._keep = self.before + self.after + sample_rate  # a margin for block boundaries
        self._pending: list = []  # detections still waiting for their ``after`` audio
        self.saved: list[Path] = []

    def add_block(self, block: np.ndarray) -> None:
        self._recent = np.concatenate([self._recent, block])[-self._keep:]
        self.samples_in += len(block)
        still = []
        for det in self._pending:
            overshoot = self.samples_in - (det.sample_index + self.after)
            if overshoot >= 0:
                self._write(det, overshoot)
            else:
                still.append(det)
        self._pending = still

    def detection(self, det) -> None:
        self._pending.append(det)

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
