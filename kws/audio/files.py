"""Reading audio files as 16 kHz mono float32, block by block, with one-line errors for bad input.

``AudioFile`` streams a file (a path or a binary file object) in blocks: stereo is averaged per
block and other rates go through soxr's streaming resampler, so memory stays flat however long
the recording is.  ``read_audio`` is the same stream joined into one array.
"""

from __future__ import annotations

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
        try:
            self._file = sf.SoundFile(source)
        except _READ_ERRORS as exc:
            raise KwsError(f"{self.name}: not a readable audio file ({exc})") from None
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

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = None
        if self.source_rate != self.sample_rate:
            resampler = soxr.ResampleStream(self.source_rate, self.sample_rate, 1, dtype="float32", quality="HQ")
        total = 0
        try:
            while True:
                try:
                    block = self._file.read(self._block, dtype="float32", always_2d=True)
                except _READ_ERRORS as exc:
                    raise KwsError(f"{self.name}: not a readable audio file ({exc})") from None
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

    def __enter__(self) -> "AudioFile":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()


def read_audio(path: str | Path, sample_rate: int = 16000, *, warn=None) -> np.ndarray:
    """The whole file as one mono float32 array at ``sample_rate`` (see AudioFile)."""
    blocks = list(AudioFile(path, sample_rate, warn=warn))
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
