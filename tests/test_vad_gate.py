"""The VAD gate of bench/vad_gate.py on hand-made VAD scores (no VAD model needed)."""

import numpy as np

from bench.vad_gate import CHUNK, gate


def test_gate_opens_only_within_hold_after_speech():
    chunk_s = CHUNK / 16000  # 32 ms
    vad = np.zeros(100, np.float32)
    vad[10:20] = 0.9  # speech in chunks 10..19: it ends at 20 * 32 ms = 0.64 s
    times = np.array([0.1, 0.33, 0.5, 0.64, 1.1, 1.2, 2.0])
    g = gate(times, vad, threshold=0.5, hold_s=0.5)
    # before the first speech chunk has ended (0.352 s) the gate is shut; open until 0.64 + 0.5 s
    assert g.tolist() == [0, 0, 1, 1, 1, 0, 0]
    assert 11 * chunk_s > 0.33
    assert gate(times, np.zeros(100), 0.5, 1.0).sum() == 0


def test_table_prints_only_the_groups_the_word_has():
    from bench.vad_gate import table

    row = {"all": {"miss_at_0.5": 0.25, "miss_at_1": 0.125}, "alone": {"miss_at_0.5": 0.5}}
    lines = table({"plain": row}, "alexa dev", (0.5, 1))
    assert lines[0] == "| alexa dev | miss @ 0.5 FA/h | miss @ 1 FA/h | alone @ 0.5 |"
    assert lines[2] == "| plain | 25.0% | 12.5% | 50.0% |"
