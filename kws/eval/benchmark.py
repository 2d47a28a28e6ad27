"""The development benchmark: streams for one word and split, every engine scored on them.

For a word and a split (dev or test) it builds, once, the streams every engine reads:

- ``alone@SNR``: that split's recordings of the word said alone, between background speech,
  with music/noise mixed in at SNR dB (Picovoice wake-word-benchmark style);
- ``sentences``: the split's sentences with the word said inside running speech
  (sentences/wuw, telephone words only), labelled from the word's hand-marked time;
- negatives, where any detection is a false alarm: the split's background (sources never
  in training, see kws.eval.splits), that speech again over music/noise, the split's
  recordings of every other word, and the split's sentences of the other words.

Misses are counted per group (``alone``, ``sentences``); false alarms over every stream,
keyword streams outside their label windows included.  With H hours of audio one false
alarm is 1/H per hour: that resolution is reported beside every number.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kws.audio.files import read_audio
from kws.eval.scoring import Point, ScoredStream, curve, miss_at_fa, score_point, sweep_streams
from kws.eval.splits import audio_files, data_root, load_split_clips, session_split, split_background
from kws.eval.streams import Stream, background_stream, keyword_stream, overlay_stream, sentence_stream

SR = 16000
FA_TARGETS = (0.1, 0.5, 1.0)
DEFAULT_SNRS = (20.0, 10.0, 0.0)


def read_clipped(path) -> np.ndarray:
    """A data-folder file as float32 in [-1, 1], quietly."""
    # Opus decodes can overshoot full scale slightly; clip so levels stay meaningful.
    return np.clip(read_audio(path, warn=lambda m: None), -1.0, 1.0)


@dataclass
class SplitAudio:
    """The recordings of one split that a benchmark for ``word`` is made of."""
    word: str
    split: str
    clips: list[np.ndarray]  # the word said alone
    clip_files: list[str]
    sentences: list[tuple[np.ndarray, float, float]]  # (audio, word start s, word end s)
    speech: list[np.ndarray]  # background speech sources of the split
    beds: list[np.ndarray]  # music and noise of the split
    background_files: list[str]
    other_clips: list[np.ndarray] = field(default_factory=list)  # other words said alone
    other_sentences: list[np.ndarray] = field(default_factory=list)  # other words' sentences
    more_clip_splits: tuple[str, ...] = ()  # other splits whose recordings are among ``clips``


def sentence_rows(root: Path) -> list[dict]:
    path = root / "sentences" / "wuw" / "labels.tsv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_split_audio(root: str | Path, word: str, split: str, negatives: bool = True,
                     clips: list[np.ndarray] | None = None, max_background_files: int = 0,
                     more_clip_splits: tuple[str, ...] = ()) -> SplitAudio:
    """Read everything the benchmark of ``word`` on ``split`` needs.

    ``clips`` replaces the recordings of the word (a word with none: held-aside synthetic
    clips); ``more_clip_splits`` adds the word's recordings said alone of other splits (a word
    trained from text alone never heard its train split: those speakers are more trials, while
    the negatives and sentences stay the split's own); ``negatives=False`` skips the other
    words and their sentences, and ``max_background_files`` keeps the first few background
    files (quick test runs)."""
    base = data_root(root)
    files: list[str] = []
    clips_read = clips is None
    if clips is None:
        folder = base / "keywords" / word
        by_split = load_split_clips(folder, 0.15, 0.15) if folder.is_dir() else {}
        split_clips = [c for s in (split, *more_clip_splits) for c in by_split.get(s, [])]
        clips = [a for _, a in split_clips]
        files = [Path(f).name for f, _ in split_clips]
    bg = split_background(audio_files(base / "background"))[split]
    if max_background_files:
        bg = bg[:max_background_files]
    speech = [read_clipped(p) for p in bg if p.parent.name == "speech"]
    beds = [read_clipped(p) for p in bg if p.parent.name != "speech"]
    rows = [r for r in sentence_rows(base) if session_split(r["session"]) == split]
    sentences, other_sentences = [], []
    for r in rows:
        audio = read_clipped(base / "sentences" / "wuw" / r["file"])
        if r["keyword"] == word:
            sentences.append((audio, float(r["start_s"]), float(r["end_s"])))
        elif negatives:
            other_sentences.append(audio)
    other_clips = []
    if negatives:
        for folder in sorted(p for p in (base / "keywords").iterdir() if p.is_dir() and p.name != word):
            seen: dict = {}
            other_clips += [a for _, a in load_split_clips(folder, 0.15, 0.15, seen=seen)[split]]
    return SplitAudio(word, split, clips, files, sentences, speech, beds, [p.name for p in bg],
                      other_clips, other_sentences, tuple(more_clip_splits) if clips_read else ())


@dataclass
class Benchmark:
    word: str
    split: str
    streams: list[tuple[str, str, Stream]]  # (name, group, stream); group "negatives" has no labels
    info: dict

    @property
    def hours(self) -> float:
        return sum(s.hours for _, _, s in self.streams)

    def stream(self, name: str) -> Stream:
        return next(s for n, _, s in self.streams if n == name)


def build_benchmark(audio: SplitAudio, snrs=DEFAULT_SNRS, seed: int = 11) -> Benchmark:
    """The streams, deterministic for (audio, snrs, seed)."""
    streams = []
    for k, snr in enumerate(snrs):
        if audio.clips:
            streams.append((f"alone@{snr:g}dB", "alone",
                            keyword_stream(audio.clips, audio.speech, audio.beds, snr_db=snr, seed=seed + k)))
    if audio.sentences:
        streams.append(("sentences", "sentences", sentence_stream(audio.sentences, seed=seed + 10)))
    everything = audio.speech + audio.beds
    if everything:
        streams.append(("background", "negatives", background_stream(everything, 0.0, seed=seed + 20)))
    if audio.speech and audio.beds:
        streams.append(("speech-over-music", "negatives", overlay_stream(audio.speech, audio.beds, seed=seed + 21)))
    if audio.other_clips:
        s = keyword_stream(audio.other_clips, audio.speech, audio.beds, snr_db=10.0, seed=seed + 22)
        streams.append(("other-words", "negatives", Stream(s.audio, [])))
    if audio.other_sentences:
        s = sentence_stream([(a, 0.0, 0.0) for a in audio.other_sentences], seed=seed + 23)
        streams.append(("other-sentences", "negatives", Stream(s.audio, [])))
    info = {"word": audio.word, "split": audio.split, "seed": seed, "snr_db": list(snrs),
            "clips": len(audio.clips), "more_clip_splits": list(audio.more_clip_splits), "sentences": len(audio.sentences),
            "other_word_clips": len(audio.other_clips), "other_sentences": len(audio.other_sentences),
            "clip_files": audio.clip_files, "background_files": audio.background_files,
            "streams": {n: round(s.hours, 4) for n, _, s in streams}}
    info["hours"] = round(sum(info["streams"].values()), 3)
    return Benchmark(audio.word, audio.split, streams, info)


def benchmark_for(root: str | Path, word: str, split: str, snrs=DEFAULT_SNRS, seed: int = 11,
                  clips: list[np.ndarray] | None = None, negatives: bool = True,
                  max_background_files: int = 0, more_clip_splits: tuple[str, ...] = ()) -> Benchmark:
    return build_benchmark(load_split_audio(root, word, split, negatives, clips, max_background_files,
                                            more_clip_splits), snrs, seed)


def score_engine(engine, bench: Benchmark, log=lambda m: None) -> list[Point]:
    """Every stream through the engine, then the threshold sweep (one pass per threshold
    for engines that can only be re-run, such as Porcupine)."""
    def scored(threshold=None):
        out = []
        for name, group, s in bench.streams:
            probs = engine.scores(s.audio, threshold=threshold)
            out.append(ScoredStream(name, group, probs, engine.frame_times(len(probs)), s.labels, s.hours))
        return out

    t0 = time.monotonic()
    if not engine.sweep_by_rerun:
        streams = scored()
        log(f"  {engine.name}: scored {bench.hours:.2f} h in {time.monotonic() - t0:.0f} s")
        return sweep_streams(streams, engine.thresholds, engine.trigger)
    points = []
    for th in engine.thresholds:
        points.append(score_point(scored(float(th)), engine.trigger(float(th)), float(th)))
        log(f"  {engine.name} @ {th:.2f}: {time.monotonic() - t0:.0f} s so far")
    return points


def summarize(points: list[Point], bench: Benchmark, fa_targets=FA_TARGETS, chosen_fa: float = 0.5) -> dict:
    """Miss rate at each false-alarm target, per group and pooled, with the resolution."""
    groups = sorted({g for _, g, _ in bench.streams if g != "negatives"})
    hours = bench.hours
    row = {"hours": round(hours, 3), "fa_resolution_per_hour": round(1 / hours, 3) if hours else None,
           "keywords": {g: sum(len(s.labels) for _, gg, s in bench.streams if gg == g) for g in groups}}
    for g in [None, *groups]:
        key = g or "all"
        c = curve(points, g)
        row[key] = {}
        for fa in fa_targets:
            miss, th = miss_at_fa(c, fa)
            row[key][f"miss_at_{fa:g}"] = miss
            row[key][f"threshold_at_{fa:g}"] = th
    th = row["all"][f"threshold_at_{chosen_fa:g}"]
    at = next((p for p in points if p.threshold == th), None)
    row["false_alarms_by_stream_at_threshold"] = dict(at.fa_by_stream) if at else None
    row["missed_by_stream_at_threshold"] = dict(at.missed_by_stream) if at else None
    row["curve"] = [(p.threshold, p.outcome().miss_rate, p.outcome().fa_per_hour,
                     {g: p.outcome(g).miss_rate for g in groups}) for p in points]
    return row


def evaluate_engine(engine, bench: Benchmark, log=lambda m: None) -> dict:
    return summarize(score_engine(engine, bench, log), bench)


def run(root: str | Path, word: str, split: str, engine_names=("kws",), models=(), snrs=DEFAULT_SNRS,
        seed: int = 11, log=lambda m: None, triggers=({},), stages=(None,),
        more_clip_splits: tuple[str, ...] = ()) -> dict:
    """Build the benchmark once and score every engine on it: ours once per model in ``models``
    (paths or shipped names; none: the shipped model of ``word``), per trigger setting in
    ``triggers`` (``{}``: the sidecar's; or consecutive/mode/window) and per stage in ``stages``
    (None: the sidecar's; gru, head, cascade), the peers that install."""
    from kws.eval.engines import KwsEngine, load_engines

    t0 = time.monotonic()
    bench = benchmark_for(root, word, split, snrs, seed, more_clip_splits=more_clip_splits)
    log(f"{word}/{split}: {bench.info['clips']} clips alone at {', '.join(f'{s:g}' for s in snrs)} dB SNR, "
        f"{bench.info['sentences']} sentences, {bench.hours:.2f} h in all "
        f"(1 false alarm = {1 / bench.hours:.2f}/h), built in {time.monotonic() - t0:.0f} s")
    engines, missing = [], {}
    peers = [n for n in engine_names if n != "kws"]
    if "kws" in engine_names:
        for m, trig, stage in ((m, t, s) for m in models or [word] for t in triggers for s in stages):
            label = "".join(f" {k}={v}" for k, v in trig.items()) + (f" stage={stage}" if stage else "")
            try:
                engines.append(KwsEngine(m, name=f"kws {m}{label}", stage=stage, **trig))
            except Exception as exc:  # a missing or damaged model is reported, the rest still run
                missing[f"kws {m}"] = f"{type(exc).__name__}: {exc}"
    more, why = load_engines(peers, word)
    engines += more
    missing.update(why)
    for name, reason in missing.items():
        log(f"{name}: not available ({reason})")
    results = {"benchmark": bench.info, "unavailable": missing, "engines": {}}
    for engine in engines:
        row = evaluate_engine(engine, bench, log)
        results["engines"][engine.name] = row
        log(f"{engine.name}: " + ", ".join(f"miss {100 * row['all'][f'miss_at_{fa:g}']:.1f}% @ {fa:g} FA/h"
                                           for fa in FA_TARGETS))
    return results


def plot_results(results: dict, path: Path) -> None:
    from kws.eval.plot import plot_det

    info = results["benchmark"]
    curves = {name: [(miss, fa) for _, miss, fa, _ in row["curve"]] for name, row in results["engines"].items()}
    title = (f"{info['word']} ({info['split']}): {info['clips']} clips alone x {len(info['snr_db'])} SNRs, "
             f"{info['sentences']} in sentences, {info['hours']:.2f} h")
    plot_det(curves, path, title, resolution_per_hour=1 / info["hours"] if info["hours"] else None)


def table(results: dict) -> list[str]:
    """Markdown rows: engine, miss at each target, per group, with the resolution."""
    info = results["benchmark"]
    groups = [g for g in ("alone", "sentences") if info["clips" if g == "alone" else "sentences"]]
    groups = groups if len(groups) > 1 else []  # one group: its numbers are the pooled ones
    head = "| engine | " + " | ".join(f"{g} miss @ {fa:g} FA/h" for g in ["all", *groups] for fa in FA_TARGETS) + " |"
    rows = [head, "|" + "---|" * (1 + len(FA_TARGETS) * (1 + len(groups)))]
    for name, row in results["engines"].items():
        cells = [f"{100 * row[g][f'miss_at_{fa:g}']:.1f}%" for g in ["all", *groups] for fa in FA_TARGETS]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def miss_breakdown(row: dict, info: dict) -> str | None:
    """One line: the misses per keyword stream at the 0.5 FA/h threshold, and how many
    recordings were missed at every SNR (the speaker or the recording, not the noise)."""
    missed = row.get("missed_by_stream_at_threshold")
    if not missed:
        return None
    alone = [set(v) for k, v in missed.items() if k.startswith("alone@")]
    parts = [f"{k} {len(v)} of {info['clips'] if k.startswith('alone@') else info['sentences']}"
             for k, v in missed.items()]
    line = "missed at the 0.5 FA/h threshold: " + ", ".join(parts)
    if len(alone) > 1:
        every, some = set.intersection(*alone), set.union(*alone)
        line += (f"; of {info['clips']} recordings alone, {len(every)} missed at every SNR, "
                 f"{len(some - every)} at some")
    return line


def keyword_and_background(root: str | Path, word: str = "alexa", split: str = "test", snr_db: float = 10.0,
                           max_background_files: int = 0, seed: int = 11) -> tuple[Stream, Stream]:
    """One word-alone stream and the split's background alone: what the cost, latency and
    soak benchmarks feed through every engine (no other words, no sentences)."""
    bench = benchmark_for(root, word, split, (snr_db,), seed, negatives=False,
                          max_background_files=max_background_files)
    return bench.stream(f"alone@{snr_db:g}dB"), bench.stream("background")
