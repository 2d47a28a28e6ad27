"""Raw PCM bytes (any rate, sample format, channel count) -> 16 kHz mono float32, streaming.

Used by the Wyoming server (each connection announces its own format) and by
``kws listen --raw-stdin``.  Bytes may arrive split anywhere, even inside a frame: the
incomplete frame is carried over to the next call.  Resampling is soxr's streaming
resampler, so chunk boundaries leave no clicks and no gaps.
"""

from __future__ import annotations

import numpy as np
import soxr

from kws.errors import KwsError

# name -> (numpy dtype, offset to subtract, full-scale divisor)
FORMATS = {
    "u8": (np.dtype("u1"), 128.0, 128.0),
    "s16le": (np.dtype("<i2"), 0.0, 32768.0),
    "s32le": (np.dtype("<i4"), 0.0, 2147483648.0),
    "f32le": (np.dtype("<f4"), 0.0, 1.0),
}
# Wyoming announces integer PCM by its width in bytes.
WIDTH_FORMATS = {1: "u8", 2: "s16le", 4: "s32le"}


def format_for_width(width: int) -> str:
    if width not in WIDTH_FORMATS:
        raise KwsError(f"unsupported sample width {width} bytes (supported: 1, 2, 4)")
    return WIDTH_FORMATS[width]


class PcmConverter:
    """Feed raw interleaved PCM bytes; get mono float32 samples at ``out_rate``.

    ``channel`` picks one channel (0-based); None averages all channels, as file mode does.
    """

    def __init__(self, rate: int, fmt: str = "s16le", channels: int = 1, channel: int | None = None,
                 out_rate: int = 16000):
        if fmt not in FORMATS:
            raise KwsError(f"unsupported sample format {fmt!r} (supported: {', '.join(FORMATS)})")
        if not 1 <= channels <= 64:
            raise KwsError(f"channel count must be 1-64, got {channels}")
        if channel is not None and not 0 <= channel < channels:
            raise KwsError(f"channel {channel} does not exist in {channels}-channel audio (0-{channels - 1})")
        if not 1000 <= rate <= 384000:
            raise KwsError(f"sample rate must be 1000-384000 Hz, got {rate}")
        self.rate, self.fmt, self.channels, self.channel, self.out_rate = rate, fmt, channels, channel, out_rate
        self.dtype, self._offset, self._scale = FORMATS[fmt]
        self.frame_bytes = self.dtype.itemsize * channels
        self._rest = b""  # an incomplete frame from the previous call (< frame_bytes)
        self._resampler = (None if rate == out_rate
                           else soxr.ResampleStream(rate, out_rate, 1, dtype="float32", quality="HQ"))

    def convert(self, data: bytes, last: bool = False) -> np.ndarray:
        """Convert the next bytes; ``last=True`` flushes the resampler at the end of a stream."""
        data = self._rest + data
        usable = len(data) - len(data) % self.frame_bytes
        self._rest = data[usable:]
        frames = np.frombuffer(data[:usable], dtype=self.dtype).reshape(-1, self.channels)
        frames = (frames.astype(np.float32) - self._offset) / self._scale
        mono = frames[:, self.channel] if self.channel is not None else frames.mean(axis=1)
        mono = np.ascontiguousarray(mono, dtype=np.float32)
        if self._resampler is None:
            return mono
        return self._resampler.resample_chunk(mono, last=last)
