import threading

import numpy as np

from kws.audio.ringbuffer import RingBuffer


def test_fifo_across_wraparound():
    rb = RingBuffer(10)
    rb.write(np.arange(7))
    assert list(rb.read(5)) == [0, 1, 2, 3, 4]
    rb.write(np.arange(7, 14))
    assert list(rb.read(9)) == list(range(5, 14))
    assert len(rb) == 0 and rb.overruns == 0


def test_overrun_drops_oldest_and_counts():
    rb = RingBuffer(5)
    rb.write(np.arange(4))
    rb.write(np.arange(4, 8))
    assert rb.overruns == 1 and rb.dropped_samples == 3
    assert list(rb.read(5)) == [3, 4, 5, 6, 7]
    rb.write(np.arange(12))
    assert list(rb.read(5)) == [7, 8, 9, 10, 11]


def test_read_times_out_then_wakes_on_write():
    rb = RingBuffer(100)
    assert rb.read(10, timeout=0.01) is None
    threading.Timer(0.05, lambda: rb.write(np.ones(10))).start()
    out = rb.read(10, timeout=2)
    assert out is not None and out.sum() == 10
