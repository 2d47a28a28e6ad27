"""Audio from other programs through stdin.

- ``stdin_audio_file``: a WAV/FLAC/Ogg *file* piped in (``cat x.wav | kws detect -``).
- ``StdinPcmSource``: raw PCM from a pipe (``arecord -f S16_LE -r 16000 -c 1 | kws listen
  --raw-stdin``), with the open/read/close/is_alive interface of MicrophoneSource, so the
  Listener and the service run on it unchanged.
"""

from __future__ import annotations

import io
import os
import queue
import sys
import threading
import time
from typing import Callable

import numpy as np

from kws.audio.files import AudioFile
from kws.audio.pcm import PcmConverter
from kws.errors import KwsError
from kws.filemode import TAIL_PAD_S


def stdin_audio_file(sample_rate: int = 16000, *, warn=None, stream=None) -> AudioFile:
    """An audio file arriving on stdin, as an AudioFile named ``-``.

    libsndfile must seek in WAV and FLAC headers and a pipe cannot, so the bytes are read
    into memory first (an hour of 16 kHz 16-bit WAV is 115 MB)."""
    data = (stream or sys.stdin.buffer).read()
    if not data:
        raise KwsError("-: no data on stdin")
    return AudioFile(io.BytesIO(data), sample_rate, warn=warn, name="-")


class StdinPcmSource:
    """Raw interleaved PCM from a pipe; read() returns 16 kHz float32 blocks or None on time-out.

    A thread reads the pipe and converts; a bounded queue (``ring_s`` of audio) between it
    and the worker makes a fast writer wait instead of losing audio.  At end of input,
    the resampler is flushed, half a second of silence lets a final word reach the trigger
    (as in file mode), and ``on_eof`` is called once from ``read``, after the last block has
    been handed out and processed.
    """

    def __init__(self, rate: int = 16000, fmt: str = "s16le", channels: int = 1, channel: int | None = None,
                 sample_rate: int = 16000, block_ms: int = 100, ring_s: float = 10.0, fd: int | None = None,
                 on_eof: Callable[[], None] | None = None):
        self.converter = PcmConverter(rate, fmt, channels, channel, out_rate=sample_rate)  # checks the format now
        self.sample_rate = sample_rate
        self.block_bytes = max(1, int(rate * block_ms / 1000)) * self.converter.frame_bytes
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.on_eof = on_eof
        self.overruns = 0  # a pipe waits instead of overflowing; kept for the metrics
        self._queue: queue.Queue = queue.Queue(maxsize=max(2, int(ring_s * 1000 / block_ms)))
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()
        self.error: str | None = None

    def open(self) -> None:
        if self.error:
            raise KwsError(self.error)
        if self._thread is None:  # the pipe is read once; a reopen after a stall carries on reading it
            self._thread = threading.Thread(target=self._read_pipe, name="kws-stdin", daemon=True)
            self._thread.start()

    def _read_pipe(self) -> None:
        try:
            while data := os.read(self.fd, self.block_bytes):
                block = self.converter.convert(data)
                if block.size:  # a part of a frame, or the resampler's start-up, gives no samples yet
                    self._queue.put(block)
        except OSError as exc:
            self.error = f"stdin: {exc.strerror or exc}"
        tail = np.zeros(int(TAIL_PAD_S * self.sample_rate), np.float32)
        self._queue.put(np.concatenate([self.converter.convert(b"", last=True), tail]))
        self._queue.put(None)  # end of input

    def is_alive(self) -> bool:
        return self.error is None

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        if self._ended.is_set():
            time.sleep(timeout)  # nothing more will come; the caller is being stopped
            return None
        try:
            block = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if block is None:
            self._ended.set()
            if self.on_eof:
                self.on_eof()
            return None
        return block

    def close(self) -> None:
        """Nothing to release: stdin belongs to the process and the reader ends at EOF."""
