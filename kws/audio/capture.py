"""Microphone capture with sounddevice (PortAudio).

The PortAudio callback only copies samples into the RingBuffer and counts overflows;
the worker thread calls ``read``.  If the device refuses 16 kHz, it is opened at its
native rate and the worker resamples with a streaming soxr resampler.
"""

from __future__ import annotations

import logging

import numpy as np
import soxr

from kws.audio.ringbuffer import RingBuffer
from kws.errors import KwsError

log = logging.getLogger("kws.audio")


def _sd():
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio shared library is missing
        raise KwsError(f"audio: PortAudio is not available ({exc}); install libportaudio2") from None
    return sd


def input_devices() -> list[dict]:
    sd = _sd()
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def resolve_device(device: int | str | None):
    """An input device index from an index, a name substring, or None (the default input)."""
    if device is None:
        return None
    devices = input_devices()
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        index = int(device)
        if not any(d["index"] == index for d in devices):
            raise KwsError(f"audio device {index}: no such input device (see `kws devices`)")
        return index
    matches = [d for d in devices if device.lower() in d["name"].lower()]
    if not matches:
        raise KwsError(f"audio device {device!r}: no input device name contains it (see `kws devices`)")
    return matches[0]["index"]


class MicrophoneSource:
    """open() / read() / close(); read returns 16 kHz float32 samples or None on time-out."""

    def __init__(self, device: int | str | None = None, sample_rate: int = 16000, block_ms: int = 100,
                 ring_s: float = 10.0, channel: int = 0):
        self.device, self.sample_rate, self.block_ms, self.ring_s = device, sample_rate, block_ms, ring_s
        self.channel = channel  # which input channel to keep (0 = first; the device is opened with channel+1)
        self.stream = None
        self.ring: RingBuffer | None = None
        self.native_rate = sample_rate
        self._resampler = None
        self.overflows = 0  # PortAudio-reported input overflows
        self.callback_errors = 0

    @property
    def overruns(self) -> int:
        return (self.ring.overruns if self.ring else 0) + self.overflows

    def _callback(self, indata, frames, time_info, status):
        if status.input_overflow:
            self.overflows += 1
        self.ring.write(indata[:, self.channel])

    def open(self) -> None:
        sd = _sd()
        index = resolve_device(self.device)
        for rate in (self.sample_rate, None):
            if rate is None:
                rate = int(sd.query_devices(index, "input")["default_samplerate"])
                log.warning("audio device does not take %d Hz; capturing at %d Hz and resampling",
                            self.sample_rate, rate)
            self.ring = RingBuffer(int(self.ring_s * rate))
            try:
                stream = sd.InputStream(samplerate=rate, channels=self.channel + 1, dtype="float32", device=index,
                                        blocksize=int(rate * self.block_ms / 1000), callback=self._callback)
                stream.start()
            except sd.PortAudioError as exc:
                if rate != self.sample_rate:
                    raise KwsError(f"audio device {self.device if self.device is not None else 'default'}: "
                                   f"cannot open ({exc})") from None
                continue
            self.stream, self.native_rate = stream, rate
            self._resampler = None if rate == self.sample_rate else soxr.ResampleStream(
                rate, self.sample_rate, 1, dtype="float32")
            return

    def prepare(self) -> None:
        """Call at start-up on the main thread, before other threads run.

        Starting PortAudio points fd 2 at /dev/null for a moment (sounddevice hides its ALSA
        chatter): done later, on the audio thread, it swallows whatever other threads log then.
        And a device name that matches nothing is a mistake (KwsError), not an outage to wait
        out; once running, a device that vanishes is retried by the Listener."""
        _sd()
        if self.device is not None:
            resolve_device(self.device)

    def is_alive(self) -> bool:
        return self.stream is not None and self.stream.active

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        n = int(self.native_rate * self.block_ms / 1000)
        chunk = self.ring.read(n, timeout=timeout)
        if chunk is None or self._resampler is None:
            return chunk
        return self._resampler.resample_chunk(chunk)

    def close(self) -> None:
        if self.stream is not None:
            try:
                self.stream.abort()
                self.stream.close()
            except Exception as exc:  # closing a vanished device can raise; nothing to recover
                log.debug("closing audio stream: %s", exc)
            self.stream = None


def default_input_index() -> int | None:
    """PortAudio's default input device (what `kws listen` opens without --device), or None."""
    sd = _sd()
    index = sd.default.device[0]  # sounddevice's own default, -1 when unset
    if index is not None and index >= 0:
        return int(index)
    try:
        return int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError, KeyError):
        return None
