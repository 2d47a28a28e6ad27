"""Soak: hours of audio through the full listening pipeline, as fast as it will go.

    python -m bench.soak --hours 8

Source -> Listener -> Spotter -> ActionRunner (JSON lines to /dev/null), with real
background audio and keyword clips looping.  Every simulated 10 minutes it records the
process RSS and the per-block processing time, so growth in memory or cost shows up.
Writes bench/results/soak.json and bench/soak.png.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import click
import numpy as np

HERE = Path(__file__).resolve().parent
SR = 16000
BLOCK = 1600


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class LoopSource:
    """Loops a base recording until ``total`` samples have been delivered; no real-time waits."""

    def __init__(self, audio: np.ndarray, total: int):
        self.audio, self.total, self.pos = audio, total, 0
        self.done = threading.Event()

    def open(self):
        pass

    def read(self, timeout=1.0):
        if self.pos >= self.total:
            self.done.set()
            time.sleep(0.05)
            return None
        start = self.pos % (len(self.audio) - BLOCK)
        self.pos += BLOCK
        return self.audio[start:start + BLOCK]

    def close(self):
        pass


@click.command()
@click.option("--hours", default=8.0, type=float)
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--out", default=str(HERE / "results" / "soak.json"), type=click.Path(dir_okay=False))
def main(hours, data_root, out):
    from kws.eval.benchmark import keyword_and_background
    from kws.actions import ActionRunner, JsonLineAction
    from kws.listener import Listener
    from kws.spotter import Spotter

    kw, bg = keyword_and_background(data_root, max_background_files=8)
    base = np.concatenate([kw.audio, bg.audio]).astype(np.float32)
    total = int(hours * 3600 * SR)
    src = LoopSource(base, total)
    devnull = open(os.devnull, "w")
    runner = ActionRunner([JsonLineAction(devnull)])
    samples: list[dict] = []
    window = {"times": [], "next": 600 * SR}

    def on_block(block, seconds):
        window["times"].append(seconds)
        if src.pos >= window["next"]:
            t = np.array(window["times"])
            samples.append({"audio_h": round(src.pos / SR / 3600, 3), "rss_mb": round(rss_mb(), 2),
                            "block_ms_p50": round(1000 * float(np.median(t)), 4),
                            "block_ms_p99": round(1000 * float(np.percentile(t, 99)), 4)})
            window["times"], window["next"] = [], window["next"] + 600 * SR

    listener = Listener(Spotter.from_models(["alexa"]), runner.submit, source=src, on_block=on_block, stall_s=5)
    t0 = time.monotonic()
    listener.start()
    src.done.wait()
    listener.stop()
    listener.join(3)
    wall = time.monotonic() - t0
    rss = [s["rss_mb"] for s in samples]
    first_hour = [s["rss_mb"] for s in samples if s["audio_h"] <= 1.0] or rss[:1]
    result = {"audio_hours": hours, "wall_s": round(wall, 1), "blocks": listener.blocks,
              "detections": listener.detections, "rss_first_hour_max_mb": max(first_hour),
              "rss_last_mb": rss[-1], "rss_growth_after_first_hour_mb": round(rss[-1] - max(first_hour), 2),
              "samples": samples}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))
    click.echo(json.dumps({k: v for k, v in result.items() if k != "samples"}), err=True)
    plot(samples, HERE / "soak.png")


def plot(samples, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = [s["audio_h"] for s in samples]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(h, [s["rss_mb"] for s in samples])
    ax[0].set_xlabel("audio hours"); ax[0].set_ylabel("RSS (MB)"); ax[0].set_ylim(bottom=0)
    ax[1].plot(h, [s["block_ms_p50"] for s in samples], label="p50")
    ax[1].plot(h, [s["block_ms_p99"] for s in samples], label="p99")
    ax[1].set_xlabel("audio hours"); ax[1].set_ylabel("ms per 100 ms block"); ax[1].legend()
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


if __name__ == "__main__":
    main()
