"""What the speech-embedding stage costs: how often the cascade asks the head, its CPU, the
wall time one ask adds to a detection, and the peak memory of `kws listen` with 1 and 4 keywords.

    python -m bench.second_stage                       # the shipped alexa, test-split audio
    python -m bench.second_stage --model runs/h1/alexa.onnx

Streams (test split only, nothing trained on): dense speech (every test-split speech source,
back to back) and quiet room noise (the test-split noise sources at -45 dBFS: a quiet house).
Each runs through the Spotter at the microphone's 100 ms blocks three ways: the detector alone
(stage gru), the cascade, and the head alone; CPU is process time per audio second, and the
second stage's share is cascade minus detector.  microWakeWord's alexa runs on the same streams
in the same 100 ms blocks (bench.latency's mic_blocks), so "below microWakeWord on an hour of
dense speech" is read off one run.  Writes bench/results/second_stage.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

HERE = Path(__file__).resolve().parent
SR = 16000
BLOCK = 1600


def streams(root) -> dict[str, np.ndarray]:
    from kws.audio.files import read_audio
    from kws.eval.splits import audio_files, data_root, split_background
    from kws.train.augment import set_level

    test = split_background(audio_files(data_root(root) / "background"))["test"]
    read = [(p, np.clip(read_audio(p, warn=lambda m: None), -1, 1)) for p in test]
    speech = np.concatenate([a for p, a in read if p.parent.name == "speech"])
    quiet = np.concatenate([set_level(a, -45.0) for p, a in read if p.parent.name == "noise"])
    return {"speech": speech.astype(np.float32), "quiet": quiet.astype(np.float32)}


def run_stage(model_ref, stage, audio) -> dict:
    from kws.model import KeywordModel
    from kws.model.stages import CascadeStream
    from kws.spotter import Spotter

    model = KeywordModel(model_ref, stage=stage)
    spotter = Spotter([model])
    ask_wall = []
    if stage == "cascade":
        stream = spotter.streams[0]
        plain = CascadeStream.ask.__get__(stream)

        def timed(recent, j):
            t = time.perf_counter()
            out = plain(recent, j)
            ask_wall.append(time.perf_counter() - t)
            return out
        stream.ask = timed
    spotter.reset()
    detections = 0
    cpu0 = time.process_time()
    for i in range(0, len(audio) - BLOCK + 1, BLOCK):
        detections += len(spotter.process(audio[i:i + BLOCK]))
    cpu = time.process_time() - cpu0
    hours = len(audio) / SR / 3600
    row = {"stage": stage, "audio_hours": round(hours, 3), "cpu_per_audio_s": cpu / (len(audio) / SR),
           "detections": detections}
    if stage == "cascade":
        computed = spotter.recent.computed  # embeddings the asks computed (each once per stream)
        row.update(asks=len(ask_wall), asks_per_hour=len(ask_wall) / hours,
                   embeddings_computed_per_hour=computed / hours,
                   ask_ms_p50=1000 * float(np.percentile(ask_wall, 50)) if ask_wall else None,
                   ask_ms_p90=1000 * float(np.percentile(ask_wall, 90)) if ask_wall else None,
                   ask_cpu_share_per_audio_s=sum(ask_wall) / (len(audio) / SR))
    return row


def peer_cpu(name: str, audio: np.ndarray) -> dict:
    """A peer's CPU per audio second on the stream at 100 ms blocks, as bench.latency feeds it."""
    import tempfile

    import soundfile as sf

    from bench.latency import mic_blocks
    from kws.eval.engines import ENGINES

    try:
        engine = ENGINES[name]()
    except Exception as exc:  # not installed here: say so in the results, do not fail the run
        return {"stage": name, "unavailable": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        sf.write(tmp.name, audio, SR, subtype="FLOAT")
        with sf.SoundFile(tmp.name) as f:
            cpu = mic_blocks(engine, f)
    return {"stage": name, "audio_hours": round(len(audio) / SR / 3600, 3), "cpu_per_audio_s": cpu / (len(audio) / SR)}


def listen_rss(models: list[str], audio: np.ndarray) -> float:
    """Peak RSS (MB) of `kws listen --raw-stdin` fed ``audio`` as s16le, read from /proc."""
    cmd = [sys.executable, "-m", "kws.cli.main", "listen", "--raw-stdin", "--no-chime"]
    for m in models:
        cmd += ["-m", m]
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         cwd=HERE.parent)
    peak = 0.0
    try:
        for i in range(0, len(pcm), 32000):
            p.stdin.write(pcm[i:i + 32000])
            peak = max(peak, _vmhwm(p.pid))
        p.stdin.close()
        while p.poll() is None:
            peak = max(peak, _vmhwm(p.pid))
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
    if p.returncode:
        raise click.ClickException(f"kws listen failed: {p.stderr.read().decode().strip().splitlines()[-1:]}")
    return peak


def _vmhwm(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@click.command()
@click.option("--model", default="alexa", show_default=True, help="A model with a second stage.")
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--rss-models", default="alexa,hey_computer,think_engine,voyager", show_default=True)
@click.option("--out", default=str(HERE / "results" / "second_stage.json"), type=click.Path(dir_okay=False))
def main(model, data_root, rss_models, out):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    audio = streams(data_root)
    result = {"model": model, "streams": {}}
    for name, a in audio.items():
        rows = [run_stage(model, stage, a) for stage in ("gru", "cascade", "head")] + [peer_cpu("microwakeword", a)]
        result["streams"][name] = rows
        for r in rows:
            click.echo(f"{name}: {json.dumps(r)}", err=True)
    names = rss_models.split(",")
    minute = audio["speech"][: 60 * SR]
    result["listen_peak_rss_mb"] = {"1 keyword": listen_rss(names[:1], minute), f"{len(names)} keywords": listen_rss(names, minute)}
    click.echo(json.dumps(result["listen_peak_rss_mb"]), err=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
