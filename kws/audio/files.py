"""Reading audio files as 16 kHz mono float32, block by block, with one-line errors for bad input.

``AudioFile`` streams a file (a path or a binary file object) in blocks: stereo is averaged per
block and other rates go through soxr's streaming resampler, so memory stays flat however long
the recording is.  ``read_audio`` is the same stream joined into one array.
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import soundfile as sf
import soxr

from kws.errors import KwsError

BLOCK_S = 10.0  # seconds of source audio per block: 3.5 MB of 44.1 kHz stereo float32
_READ_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


class AudioFile:
    """A readable audio file, checked on opening; iterate for mono float32 blocks at ``sample_rate``.

    Opening raises KwsError naming the file if it is missing, a folder, not audio or empty,
    and notes stereo and resampling through ``warn`` (stderr by default) so that no
    conversion is silent.  Iteration raises KwsError at a non-finite sample.
    """

    def __init__(self, source: str | Path | BinaryIO, sample_rate: int = 16000, *, warn=None,
                 name: str | None = None, block_s: float = BLOCK_S):
        self.name = name or (str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "<stream>"))
        warn = warn or (lambda msg: print(msg, file=sys.stderr))
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                raise KwsError(f"{self.name}: is a folder, not an audio file")
            if not path.is_file():
                raise KwsError(f"{self.name}: no such file")
            source = str(path)
        declared = _wav_declared_frames(source)
        try:
            self._file = sf.SoundFile(source)
        except _READ_ERRORS as exc:
            raise KwsError(f"{self.name}: not a readable audio file ({self._reason(exc)})") from None
        # Set once iteration has decoded all it can of a file that ends early (see __iter__).
        self.truncated: str | None = None
        self._declared_frames = declared if declared is not None else (
            self._file.frames if self._file.seekable() else None)
        self.source_rate, self.channels = self._file.samplerate, self._file.channels
        if self._file.seekable() and self._file.frames == 0:
            self._file.close()
            raise KwsError(f"{self.name}: contains no audio samples")
        self.sample_rate = sample_rate
        self._block = max(1, int(block_s * self.source_rate))
        if self.channels > 1:
            warn(f"{self.name}: {self.channels} channels, averaged to mono")
        if self.source_rate != sample_rate:
            warn(f"{self.name}: {self.source_rate} Hz, resampled to {sample_rate} Hz")

    @property
    def expected_samples(self) -> int | None:
        """Samples at ``sample_rate`` the file will give (None when the source cannot tell)."""
        if not self._file.seekable():
            return None
        return int(round(self._file.frames * self.sample_rate / self.source_rate))

    def _salvage(self, start: int, step_s: float = 0.1) -> np.ndarray:
        """After a failed read: the frames from ``start`` that still decode, read in short steps."""
        pieces = []
        if self._file.seekable():
            self._file.seek(start)
            step = max(1, int(step_s * self.source_rate))
            while True:
                try:
                    piece = self._file.read(step, dtype="float32", always_2d=True)
                except _READ_ERRORS:
                    break
                pieces.append(piece)
                if len(piece) < step:
                    break
        return np.concatenate(pieces) if pieces else np.zeros((0, self.channels), np.float32)

    def _reason(self, exc: Exception) -> str:
        """libsndfile's message, with a file object's repr (``<_io.BytesIO object at 0x…>``) named."""
        where = "stdin" if self.name == "-" else self.name
        return re.sub(r"<[\w.]+ object at 0x[0-9a-fA-F]+>", where, str(exc))

    def _truncation(self, decoded: int, reason: str | None) -> str | None:
        declared = self._declared_frames
        if reason is None and (declared is None or decoded >= declared):
            return None
        promised = f" of the {declared / self.source_rate:.1f} s its header promises" if declared else ""
        why = f" ({reason})" if reason else ""
        return (f"{self.name}: truncated or damaged: only the first {decoded / self.source_rate:.1f} s"
                f"{promised} could be decoded{why}")

    def __iter__(self) -> Iterator[np.ndarray]:
        """Mono blocks; a file that ends early gives what decodes, then ``truncated`` says so."""
        resampler = None
        if self.source_rate != self.sample_rate:
            resampler = soxr.ResampleStream(self.source_rate, self.sample_rate, 1, dtype="float32", quality="HQ")
        total = 0
        try:
            while True:
                try:
                    block = self._file.read(self._block, dtype="float32", always_2d=True)
                except _READ_ERRORS as exc:
                    block = self._salvage(total)  # the block up to where it stops decoding
                    if total + len(block) == 0:
                        raise KwsError(f"{self.name}: not a readable audio file ({self._reason(exc)})") from None
                    self.truncated = self._truncation(total + len(block), self._reason(exc))
                last = len(block) < self._block
                if not np.all(np.isfinite(block)):
                    raise KwsError(f"{self.name}: contains non-finite samples")
                total += len(block)
                mono = block.mean(axis=1) if self.channels > 1 else block[:, 0]
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                if mono.size:
                    yield np.ascontiguousarray(mono, dtype=np.float32)
                if last:
                    break
        finally:
            self._file.close()
        if total == 0:
            raise KwsError(f"{self.name}: contains no audio samples")
        self.truncated = self.truncated or self._truncation(total, None)

    def __enter__(self) -> "AudioFile":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()


def read_audio(path: str | Path, sample_rate: int = 16000, *, warn=None) -> np.ndarray:
    """The whole file as one mono float32 array at ``sample_rate`` (see AudioFile); a truncated
    file raises KwsError."""
    audio = AudioFile(path, sample_rate, warn=warn)
    blocks = list(audio)
    if audio.truncated:
        raise KwsError(audio.truncated)
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def _wav_declared_frames(source) -> int | None:
    """The frame count a WAV header's data chunk declares (None: not a WAV, or a streamed one).

    libsndfile quietly shortens a WAV whose data ends early to the frames present; the header
    is the only place that says more were meant to be there."""
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as f:
                head = f.read(1 << 16)
        else:
            at = source.tell()
            head = source.read(1 << 16)
            source.seek(at)
    except (OSError, AttributeError, ValueError):
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, block_align = 12, None
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk == b"fmt " and pos + 22 <= len(head):
            block_align = struct.unpack("<H", head[pos + 20:pos + 22])[0]
        if chunk == b"data":
            if not block_align or size in (0, 0xFFFFFFFF):  # writers that could not seek back leave these
                return None
            return size // block_align
        pos += 8 + size + (size & 1)
    return None
