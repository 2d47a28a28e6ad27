"""Latency, CPU cost, memory and start-up time of each engine, each in its own process.

    python -m bench.latency                   # every engine that installs here
    python -m bench.latency --engines kws --minutes 5

Per engine (a fresh child process, one thread, so RSS and start-up are its own):
  - real-time factor: CPU seconds per audio second over the whole stream
  - per-hop processing time p50/p99 (one native frame of the engine per call)
  - detection latency in audio time: end of the spoken word -> trigger, p50/p90, at the
    engine's own recommended threshold
  - peak RSS, and start-up time from the child's first line to its first processed frame
Then, for kws only, a paced run: audio delivered at real-time speed through the
Listener and ActionRunner, measuring wall-clock time from the last sample of the word
to the action being called.
Writes bench/results/latency.json.
"""

from __future__ import annotations

import time

_T_START = time.perf_counter()  # before any heavy import: start-up is measured from here

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
RECOMMENDED = {"kws": None, "openwakeword": 0.5, "microwakeword": 0.9, "porcupine": 0.5}
SR = 16000


def _pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def peak_rss_mb() -> float:
    """VmHWM: this process's own peak RSS.  (ru_maxrss would not do: Linux carries it over
    fork+exec, so a child would report the parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def detection_latencies(fire_times, labels, word_ends):
    out = []
    for (a, b), end in zip(labels, word_ends):
        inside = [t for t in fire_times if a <= t <= b]
        if inside:
            out.append(inside[0] - end)
    return out


MIC_BLOCK = 1600  # 100 ms: what kws.audio.capture delivers to `kws listen` by default


def mic_blocks(engine, f) -> float:
    """CPU seconds to run the whole stream fed as the microphone delivers it, 100 ms blocks.
    An engine whose API takes any length gets each block in one call; the others get their
    whole native frames, the remainder carried to the next block."""
    engine.reset()
    f.seek(0)
    cpu, pending = 0.0, np.zeros(0, np.float32)
    fs = engine.frame_samples
    while True:
        chunk = f.read(MIC_BLOCK * 100, dtype="float32")  # read 10 s, then time block by block
        if not len(chunk):
            return cpu
        cpu0 = time.process_time()
        for k in range(0, len(chunk) - MIC_BLOCK + 1, MIC_BLOCK):
            block = chunk[k:k + MIC_BLOCK]
            if engine.any_length:
                engine.process(block)
                continue
            pending = np.concatenate([pending, block])
            whole = len(pending) // fs * fs
            for i in range(0, whole, fs):
                engine.process(pending[i:i + fs])
            pending = pending[whole:]
        cpu += time.process_time() - cpu0


def child(engine_name: str, audio_path: str, meta_path: str) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from kws.eval.engines import ENGINES
    from kws.eval.scoring import trigger_fires

    import soundfile as sf

    meta = json.loads(Path(meta_path).read_text())
    engine = ENGINES[engine_name]()
    engine.reset()
    fs = engine.frame_samples
    # Audio is read from disk in blocks, so the process's peak RSS is the engine's, not the stream's.
    with sf.SoundFile(audio_path) as f:
        total = f.frames
        n = total // fs
        engine.process(f.read(fs, dtype="float32"))
        startup = time.perf_counter() - _T_START
        engine.reset()
        f.seek(0)
        hop_times = np.empty(n)
        scores = np.empty(n, dtype=np.float32)
        cpu, i = 0.0, 0
        while i < n:
            block = f.read(fs * min(1000, n - i), dtype="float32")
            cpu0 = time.process_time()
            for k in range(len(block) // fs):
                t = time.perf_counter()
                scores[i] = engine.process(block[k * fs:(k + 1) * fs])
                hop_times[i] = time.perf_counter() - t
                i += 1
            cpu += time.process_time() - cpu0
        mic_cpu = mic_blocks(engine, f)
    th = RECOMMENDED[engine_name]
    if th is None:
        th = engine.model.threshold  # the stage's own (a cascade's score threshold)
    times = engine.frame_times(n)
    fires = times[trigger_fires(scores, engine.trigger(th))]
    lat = detection_latencies(list(fires), meta["labels"], meta["word_ends"])
    return {"engine": engine.name, "frame_ms": 1000 * engine.frame_samples / SR, "threshold": th,
            "rtf": cpu / (n * fs / SR), "rtf_mic_blocks": mic_cpu / (total / SR), "hop_ms_p50": 1000 * _pct(hop_times, 50),
            "hop_ms_p99": 1000 * _pct(hop_times, 99), "latency_ms_p50": 1000 * _pct(lat, 50),
            "latency_ms_p90": 1000 * _pct(lat, 90), "detected": len(lat), "keywords": len(meta["labels"]),
            "rss_mb": peak_rss_mb(), "startup_s": startup}


def paced(kw_audio: np.ndarray, labels, word_ends, seconds: float = 60.0) -> dict:
    """kws only: real-time delivery through Listener + ActionRunner; word end -> action called."""
    import threading

    from kws.actions import ActionRunner, CallbackAction
    from kws.listener import Listener
    from kws.spotter import Spotter

    n = min(len(kw_audio), int(seconds * SR))
    audio = kw_audio[:n]
    block = 1600  # 100 ms, as the microphone delivers by default

    class PacedSource:
        def __init__(self):
            self.pos, self.t0, self.done = 0, None, threading.Event()

        def open(self):
            self.t0 = time.monotonic()

        def read(self, timeout=1.0):
            if self.pos >= n:
                self.done.set()
                time.sleep(0.05)
                return None
            self.pos += block
            # the block's last sample "arrives" at t0 + its time; wait for that moment
            delay = self.t0 + self.pos / SR - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            return audio[self.pos - block:self.pos]

        def close(self):
            pass

    called = []
    runner = ActionRunner([CallbackAction(lambda d: called.append((time.monotonic(), d)))])
    src = PacedSource()
    listener = Listener(Spotter.from_models(["alexa"]), runner.submit, source=src, stall_s=5)
    listener.start()
    src.done.wait(seconds + 30)
    listener.stop()
    listener.join(2)
    runner.drain()
    lat = []
    for (a, b), end in zip(labels, word_ends):
        if b * SR > n:
            break
        inside = [t for t, d in called if a <= d.time_s <= b]
        if inside:
            lat.append(inside[0] - (src.t0 + end))
    return {"audio_s": n / SR, "keywords": sum(1 for (a, b) in labels if b * SR <= n), "detected": len(lat),
            "wall_latency_ms_p50": 1000 * _pct(lat, 50), "wall_latency_ms_p90": 1000 * _pct(lat, 90)}


@click.command()
@click.option("--engines", default="kws,openwakeword,microwakeword,porcupine")
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--minutes", default=10.0, type=float, help="Background minutes appended to the keyword stream.")
@click.option("--child", "child_engine", default=None, hidden=True)
@click.option("--audio", default=None, hidden=True)
@click.option("--meta", default=None, hidden=True)
@click.option("--out", default=str(HERE / "results" / "latency.json"), type=click.Path(dir_okay=False))
def main(engines, data_root, minutes, child_engine, audio, meta, out):
    if child_engine:
        click.echo(json.dumps(child(child_engine, audio, meta)))
        return
    from kws.eval.benchmark import keyword_and_background

    kw, bg = keyword_and_background(data_root, max_background_files=3)
    bg.audio = bg.audio[: int(minutes * 60 * SR)]
    stream = np.concatenate([kw.audio, bg.audio]).astype(np.float32)
    tmp = Path(tempfile.mkdtemp())
    import soundfile as sf
    sf.write(tmp / "audio.wav", stream, SR, subtype="FLOAT")
    (tmp / "meta.json").write_text(json.dumps({"labels": kw.labels, "word_ends": kw.word_ends}))
    results = {"stream_minutes": round(len(stream) / SR / 60, 1), "keywords": len(kw.labels),
               "machine": machine(), "engines": {}, "unavailable": {}}
    for name in engines.split(","):
        r = subprocess.run([sys.executable, "-m", "bench.latency", "--child", name, "--audio", str(tmp / "audio.wav"),
                            "--meta", str(tmp / "meta.json")], capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=HERE.parent)
        if r.returncode:
            why = (r.stderr.strip().splitlines() or ["failed"])[-1]
            results["unavailable"][name] = why
            click.echo(f"{name}: not available here ({why})", err=True)
            continue
        row = json.loads(r.stdout.strip().splitlines()[-1])
        results["engines"][row["engine"]] = row
        click.echo(json.dumps(row), err=True)
    if "kws" in engines.split(","):
        results["paced"] = paced(kw.audio, kw.labels, kw.word_ends)
        click.echo(json.dumps(results["paced"]), err=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1))


def machine() -> dict:
    import platform
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "os": platform.platform()}


if __name__ == "__main__":
    main()
