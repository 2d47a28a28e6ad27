"""A fixed-capacity float32 ring buffer between the audio callback and the worker.

The PortAudio callback must never block or allocate much, so it only calls ``write``;
when the worker falls behind, the oldest samples are overwritten and counted as an
overrun instead of growing memory without bound.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._data = np.zeros(capacity, dtype=np.float32)
        self._capacity = capacity
        self._start = 0  # index of the oldest unread sample
        self._size = 0
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self.overruns = 0  # write calls that had to drop unread samples
        self.dropped_samples = 0

    def __len__(self) -> int:
        with self._lock:
            return self._size

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._lock:
            n = samples.size
            if n >= self._capacity:  # keep only the newest `capacity` samples
                dropped = self._size + n - self._capacity
                samples, n = samples[-self._capacity:], self._capacity
                self._start, self._size = 0, 0
            else:
                dropped = max(0, self._size + n - self._capacity)
                self._start = (self._start + dropped) % self._capacity
                self._size -= dropped
            if dropped:
                self.overruns += 1
                self.dropped_samples += dropped
            end = (self._start + self._size) % self._capacity
            first = min(n, self._capacity - end)
            self._data[end:end + first] = samples[:first]
            self._data[: n - first] = samples[first:]
            self._size += n
            self._readable.notify()

    def read(self, n: int, timeout: float | None = None) -> np.ndarray | None:
        """Wait up to ``timeout`` s for ``n`` samples; return them, or None on time-out."""
        with self._lock:
            if not self._readable.wait_for(lambda: self._size >= n, timeout=timeout):
                return None
            idx = (self._start + np.arange(n)) % self._capacity
            out = self._data[idx].copy()
            self._start = (self._start + n) % self._capacity
            self._size -= n
            return out
