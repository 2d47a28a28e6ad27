"""Test doubles for an audio source: the same open/read/close surface as MicrophoneSource."""

from __future__ import annotations

import time

import numpy as np


class ArraySource:
    """Plays an array in blocks; can fail to open or fail mid-stream a given number of times."""

    def __init__(self, audio: np.ndarray, block: int = 1600, fail_opens: int = 0, fail_after_blocks: int | None = None,
                 realtime: bool = False, loop_silence: bool = True):
        self.audio, self.block = audio.astype(np.float32), block
        self.fail_opens, self.fail_after_blocks = fail_opens, fail_after_blocks
        self.realtime, self.loop_silence = realtime, loop_silence
        self.pos = 0
        self.opens = 0
        self.open_attempts = 0
        self.blocks_since_open = 0
        self.overruns = 0

    def open(self):
        self.open_attempts += 1
        if self.fail_opens > 0:
            self.fail_opens -= 1
            raise OSError("device unavailable (simulated)")
        self.opens += 1
        self.blocks_since_open = 0

    def read(self, timeout: float = 1.0):
        if self.fail_after_blocks is not None and self.blocks_since_open >= self.fail_after_blocks:
            self.fail_after_blocks = None  # fail once
            raise OSError("device unplugged (simulated)")
        if self.realtime:
            time.sleep(self.block / 16000)
        self.blocks_since_open += 1
        if self.pos >= len(self.audio):
            if not self.loop_silence:
                time.sleep(timeout)
                return None
            return np.zeros(self.block, np.float32)
        out = self.audio[self.pos:self.pos + self.block]
        self.pos += self.block
        return out

    def is_alive(self):
        return True

    def close(self):
        pass

    @property
    def finished(self):
        return self.pos >= len(self.audio)
