"""Peak memory of `kws detect` on long 44.1 kHz stereo recordings (file mode streams in blocks).

    python -m bench.filemode_memory                  # 1 min and 60 min
    python -m bench.filemode_memory --minutes 1 10

For each length a WAV file (44.1 kHz, stereo, 16-bit) is written to a temporary folder: the
shipped sample (kws/samples/alexa.flac, one "alexa" per 5.06 s) resampled and looped, the right
channel a slightly different mix of the left.  `kws detect` then runs on it in a fresh process,
which reports its own peak RSS (VmHWM) at exit; `--checkout DIR` runs another checkout's kws
(its bench/latency.py must exist) on the same files, for a before/after comparison.  Flat memory means the 60 min figure is about
the 1 min one.  Writes bench/results/filemode_memory.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE = REPO / "kws" / "samples" / "alexa.flac"
RATE = 44100

# The child: `kws detect FILE` in-process, then its own peak RSS on stderr as the last line.
CHILD = ("import atexit, sys; from bench.latency import peak_rss_mb;"
         "atexit.register(lambda: print(f'peak_rss_mb={peak_rss_mb():.1f}', file=sys.stderr));"
         "sys.argv = ['kws', 'detect', sys.argv[1]]; from kws.cli.main import main; main()")


def write_recording(path: Path, minutes: float) -> int:
    """A looped, resampled stereo copy of the sample; returns how many keywords it holds."""
    mono, sr = sf.read(str(SAMPLE), dtype="float32")
    left = soxr.resample(mono, sr, RATE).astype(np.float32)
    loop = np.stack([left, 0.9 * left + 0.05 * np.roll(left, 11)], axis=1)
    repeats = int(minutes * 60 * RATE // len(loop))
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_16") as f:
        for _ in range(repeats):
            f.write(loop)
    return repeats


def measure(path: Path, checkout: Path = REPO) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, cwd=checkout)
    if r.returncode:
        raise SystemExit(f"kws detect failed: {r.stderr[-500:]}")
    peak = float(r.stderr.strip().splitlines()[-1].split("=")[1])
    return {"peak_rss_mb": peak, "detections": len(r.stdout.splitlines()), "wall_s": round(time.perf_counter() - t0, 1)}


@click.command()
@click.option("--minutes", multiple=True, type=float, default=(1.0, 60.0), show_default=True)
@click.option("--checkout", default=str(REPO), type=click.Path(file_okay=False, exists=True),
              help="Run the kws of another checkout (e.g. an older commit, for comparison).")
@click.option("--label", default="this checkout", help="What was measured, for the report.")
@click.option("--out", default=str(HERE / "results" / "filemode_memory.json"), type=click.Path(dir_okay=False))
def main(minutes, checkout, label, out):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            path = Path(tmp) / f"{m:g}min.wav"
            keywords = write_recording(path, m)
            row = {"minutes": m, "file_mb": round(path.stat().st_size / 1e6, 1), "keywords": keywords, **measure(path, Path(checkout))}
            path.unlink()
            rows.append(row)
            click.echo(json.dumps(row))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.filemode_memory " + " ".join(f"--minutes {m:g}" for m in minutes)
    if Path(checkout).resolve() != REPO:
        command += f" --checkout {checkout}"
    Path(out).write_text(json.dumps({"command": command, "label": label, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
