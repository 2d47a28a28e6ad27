"""The evaluation module: splits by session and by source, benchmark streams, scoring."""

import numpy as np
import pytest

from kws.eval import benchmark as bm
from kws.eval.scoring import ScoredStream, curve, miss_at_fa, sweep_streams
from kws.eval.splits import (HELD_OUT_SOURCES, audio_files, session_of, session_split, source_of,
                             split_background, split_files)
from kws.eval.streams import Stream
from kws.trigger import TriggerParams

WUW_WORDS = ("think_engine", "onword", "voyager")


def test_telephone_words_and_sentences_split_by_session(data_root):
    """A session (one speaker) lands in one split for every word, alone and in sentences."""
    where: dict[str, str] = {}
    for word in WUW_WORDS:
        for split, files in split_files(audio_files(data_root / "keywords" / word), 0.15, 0.15).items():
            assert len(files) >= 20, (word, split)  # every split has enough speakers to measure
            for f in files:
                assert where.setdefault(session_of(f), split) == split, f
    rows = bm.sentence_rows(data_root)
    assert len(rows) > 400
    for r in rows:
        assert where.setdefault(r["session"], session_split(r["session"])) == session_split(r["session"])
    counts = {s: sum(1 for v in where.values() if v == s) for s in ("train", "dev", "test")}
    assert counts["test"] >= 20 and counts["dev"] >= 20 and counts["train"] > counts["test"] * 3


def test_session_split_is_a_fixed_function_of_the_session():
    assert session_split("00042") == session_split("00042")
    assert session_of("wuw-00042-007.ogg") == session_of("wuw-00042.flac") == "00042"
    assert session_of("pv-12.flac") is None
    picks = {session_split(f"{i:05d}") for i in range(200)}
    assert picks == {"train", "dev", "test"}


def test_test_background_holds_whole_sources_never_trained_on(data_root):
    bg = split_background(audio_files(data_root / "background"))
    sources = {s: {source_of(f) for f in files} for s, files in bg.items()}
    for held in HELD_OUT_SOURCES["test"]:
        assert held not in sources["train"] and held not in sources["dev"]
    assert set(HELD_OUT_SOURCES["test"]) <= sources["test"] | {"librosa_nature"}
    names = [set(map(str, v)) for v in bg.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])


def _stream(n_steps, labels):
    return Stream(np.zeros(n_steps * 480, np.float32), labels)


def test_sweep_over_groups_counts_misses_per_group_and_false_alarms_everywhere():
    step = 0.03
    times = np.arange(1000) * step
    alone = np.zeros(1000)
    alone[100:105] = 0.9  # hits label (2.5, 4.0)
    alone[600:605] = 0.9  # outside every label: a false alarm on a keyword stream
    sent = np.zeros(1000)
    sent[300:303] = 0.7  # a weak hit in a sentence (8.5, 10.0)
    neg = np.zeros(120_000)
    neg[5000:5010] = 0.95
    neg[5010:5030] = 0.95  # same burst, inside the refractory period: one false alarm
    streams = [ScoredStream("alone", "alone", alone, times, [(2.5, 4.0), (20.0, 21.0)], 1000 * step / 3600),
               ScoredStream("sentences", "sentences", sent, times, [(8.5, 10.0)], 1000 * step / 3600),
               ScoredStream("bg", "negatives", neg, np.arange(120_000) * step, [], 1.0)]
    pts = sweep_streams(streams, [0.5, 0.8], lambda th: TriggerParams(th, consecutive=3, refractory_steps=50))
    low, high = pts
    assert low.groups == {"alone": (1, 1), "sentences": (1, 0)} and low.false_alarms == 2
    assert high.groups == {"alone": (1, 1), "sentences": (0, 1)} and high.false_alarms == 2
    assert low.fa_by_stream == {"alone": 1, "sentences": 0, "bg": 1}
    assert low.missed_by_stream == {"alone": [1], "sentences": []}  # which label, not only how many
    assert high.missed_by_stream == {"alone": [1], "sentences": [0]}
    hours = 1.0 + 2 * 1000 * step / 3600
    assert low.outcome().fa_per_hour == pytest.approx(2 / hours)
    assert low.outcome().miss_rate == pytest.approx(1 / 3) and low.outcome("sentences").miss_rate == 0
    assert miss_at_fa(curve(pts, "sentences"), 2.0) == (0.0, 0.5)
    assert miss_at_fa(curve(pts), 1.0) == (1.0, None)  # 2 false alarms in ~1 h: no threshold qualifies


def test_miss_breakdown_tells_recordings_missed_at_every_snr_from_ones_lost_in_noise():
    row = {"missed_by_stream_at_threshold": {"alone@20dB": [4], "alone@10dB": [4, 7], "alone@0dB": [1, 4, 7],
                                             "sentences": [2]}}
    line = bm.miss_breakdown(row, {"clips": 10, "sentences": 5})
    assert line == ("missed at the 0.5 FA/h threshold: alone@20dB 1 of 10, alone@10dB 2 of 10, "
                    "alone@0dB 3 of 10, sentences 1 of 5; of 10 recordings alone, 1 missed at every SNR, 2 at some")
    assert bm.miss_breakdown({"missed_by_stream_at_threshold": None}, {}) is None  # no threshold reached the target


class _OracleEngine:
    """Scores 1 inside each label window of the stream it is given, 0 elsewhere."""
    name, sweep_by_rerun, thresholds = "oracle", False, np.array([0.5])

    def __init__(self, bench):
        self.labels = {id(s.audio): s.labels for _, _, s in bench.streams}

    def scores(self, audio, threshold=None):
        t = self.frame_times(len(audio) // 480)
        p = np.zeros(len(t))
        for a, b in self.labels[id(audio)]:
            p[(t >= a + 0.1) & (t <= a + 0.3)] = 1.0
        return p

    def frame_times(self, n):
        return (np.arange(n) + 1) * 0.03

    def trigger(self, th):
        return TriggerParams(th, consecutive=1, refractory_steps=50)


def test_benchmark_scores_an_oracle_perfectly_and_reports_the_resolution(data_root):
    audio = bm.load_split_audio(data_root, "think_engine", "dev", negatives=False, max_background_files=2)
    bench = bm.build_benchmark(audio, snrs=(10.0, 0.0))
    names = [n for n, _, _ in bench.streams]
    assert names[:3] == ["alone@10dB", "alone@0dB", "sentences"] and "background" in names
    row = bm.summarize(bm.score_engine(_OracleEngine(bench), bench), bench)
    assert row["keywords"] == {"alone": 2 * len(audio.clips), "sentences": len(audio.sentences)}
    assert row["all"]["miss_at_0.1"] == 0.0 and row["sentences"]["miss_at_0.1"] == 0.0
    assert row["fa_resolution_per_hour"] == pytest.approx(1 / bench.hours, abs=1e-3)
    s = bench.stream("sentences")
    for (a, b), end in zip(s.labels, s.word_ends):
        assert a < end < b  # the word's hand-marked end lies inside its label


def test_a_text_only_words_dev_adds_its_unheard_train_recordings_and_nothing_else(data_root):
    """eval.train_recordings_in_dev: the train split's speakers said alone become dev trials of a
    word trained from text alone; the sentences and every negative stay dev's own."""
    from kws.train.config import load_train_config
    from kws.train.evaluate import dev_recording_splits

    dev = bm.load_split_audio(data_root, "voyager", "dev", max_background_files=2)
    wide = bm.load_split_audio(data_root, "voyager", "dev", max_background_files=2, more_clip_splits=("train",))
    train = bm.load_split_audio(data_root, "voyager", "train", negatives=False, max_background_files=1)
    assert wide.clip_files == dev.clip_files + train.clip_files and len(train.clips) > 3 * len(dev.clips)
    assert len(wide.sentences) == len(dev.sentences) and wide.background_files == dev.background_files
    assert len(wide.other_clips) == len(dev.other_clips) and len(wide.other_sentences) == len(dev.other_sentences)
    text_only = load_train_config("configs/train-voyager-text.yaml")
    assert dev_recording_splits(text_only) == ("dev", "train")
    assert dev_recording_splits(load_train_config("configs/train-voyager-text.yaml",
                                                  {"eval.train_recordings_in_dev": False})) == ("dev",)
    assert dev_recording_splits(load_train_config("configs/train-alexa.yaml")) == ("dev",)  # trained on them


def test_augmented_dev_negatives_add_each_negative_stream_once_per_augmentation():
    from kws.train.evaluate import with_augmented_negatives

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 70) * 0.05).astype(np.float32)
    word = Stream(noise[:16000 * 10].copy(), [(2.0, 3.0)])
    bench = bm.Benchmark("w", "dev", [("alone@10dB", "alone", word), ("background", "negatives", Stream(noise, []))],
                         {"streams": {"alone@10dB": word.hours, "background": 70 / 3600}})
    before = bench.hours
    out = with_augmented_negatives(bench, [noise[:16000]], ["telephone", "reverb_noise"])
    assert [n for n, _, _ in out.streams] == ["alone@10dB", "background", "background+telephone",
                                              "background+reverb_noise"]
    assert all(g == "negatives" and not s.labels for n, g, s in out.streams[2:])
    assert out.hours == pytest.approx(before + 2 * 70 / 3600, rel=1e-3) and out.info["hours"] == round(out.hours, 3)
    assert not np.allclose(out.streams[2][2].audio, noise)  # another channel, not a copy
    assert with_augmented_negatives(bm.Benchmark("w", "dev", [], {}), [], []).streams == []


def test_shipped_model_runs_through_the_same_benchmark_as_kws_eval(data_root, tmp_path):
    import json
    import subprocess
    import sys
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "kws.cli.main", "eval", "--word", "alexa", "--split", "dev",
                        "--snr", "10", "--data-root", str(data_root), "--out", str(out), "--plot", str(tmp_path / "d.png")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "one false alarm =" in r.stdout and "| kws alexa |" in r.stdout
    res = json.loads(out.read_text())
    row = res["engines"]["kws alexa"]
    assert 0.0 <= row["all"]["miss_at_0.5"] <= 1.0 and row["hours"] > 1.0
    assert (tmp_path / "d.png").stat().st_size > 5000


def test_speech_bounds_find_the_word_in_a_noisy_zero_padded_recording():
    """Room noise at -55 dBFS, a 0.6 s word with a short closure, then digital zero padding (as
    many crowd-sourced clips end): the bounds are the word, not the noisy clip."""
    from kws.eval.streams import speech_bounds
    rng = np.random.default_rng(0)
    sr = 16000
    noise = rng.standard_normal(int(2.5 * sr)) * 10 ** (-55 / 20)
    word = np.zeros(int(0.6 * sr))
    word[: int(0.25 * sr)] = rng.standard_normal(int(0.25 * sr)) * 0.1
    word[int(0.32 * sr):] = rng.standard_normal(int(0.28 * sr)) * 0.1  # 70 ms closure inside
    audio = noise.copy()
    audio[int(0.8 * sr): int(1.4 * sr)] += word
    audio = np.concatenate([audio, np.zeros(sr)]).astype(np.float32)
    start, end = speech_bounds(audio)
    assert abs(start / sr - 0.8) < 0.03 and abs(end / sr - 1.4) < 0.03
    click = audio.copy()
    click[int(2.2 * sr): int(2.22 * sr)] += 0.05  # a short click after the word is not the word
    assert abs(speech_bounds(click)[1] / sr - 1.4) < 0.03
