"""bench/latency.py's microphone-block pass: every engine sees the whole stream, in the blocks
its API takes (one call per 100 ms block, or whole native frames with the rest carried)."""

import numpy as np
import soundfile as sf

from bench.latency import MIC_BLOCK, mic_blocks
from kws.eval.engines import Engine


class Recorder(Engine):
    def __init__(self, frame_samples, any_length):
        self.frame_samples, self.any_length, self.calls, self.resets = frame_samples, any_length, [], 0

    def reset(self):
        self.resets += 1

    def process(self, frame):
        self.calls.append(frame.copy())
        return 0.0


def test_mic_blocks_feed_the_whole_stream_in_the_engines_own_sizes(tmp_path):
    n = MIC_BLOCK * 250  # 25 s: more than one 10 s read
    audio = np.arange(n, dtype=np.float32) / n
    path = tmp_path / "a.wav"
    sf.write(path, audio, 16000, subtype="FLOAT")
    whole = Recorder(480, any_length=True)
    with sf.SoundFile(path) as f:
        assert mic_blocks(whole, f) >= 0
    assert whole.resets == 1 and {len(c) for c in whole.calls} == {MIC_BLOCK} and len(whole.calls) == 250
    np.testing.assert_array_equal(np.concatenate(whole.calls), audio)
    native = Recorder(512, any_length=False)  # Porcupine's frame: 100 ms blocks do not divide into it
    with sf.SoundFile(path) as f:
        mic_blocks(native, f)
    assert {len(c) for c in native.calls} == {512} and len(native.calls) == n // 512
    np.testing.assert_array_equal(np.concatenate(native.calls), audio[: n // 512 * 512])
