"""Miss rate against false alarms per hour, every engine on the same streams.

    python -m bench.accuracy                       # all engines that install here
    python -m bench.accuracy --engines kws --background-hours 0.5

Writes bench/results/accuracy.json and bench/det.png; bench/report.py folds them into
bench/RESULTS.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from bench.data import build_streams
from bench.engines import ENGINES, load_engines
from kws.eval.scoring import det_points, miss_at_fa, sweep

HERE = Path(__file__).resolve().parent
FA_TARGETS = (0.1, 0.5, 1.0)


def engine_curve(engine, kw, bg, log=print):
    """(threshold, Outcome) for each threshold of the engine's sweep."""
    curve = []
    cached = None
    for th in engine.thresholds:
        if engine.sweep_by_rerun or cached is None:
            t0 = time.monotonic()
            kw_s = engine.scores(kw.audio, threshold=float(th))
            bg_s = engine.scores(bg.audio, threshold=float(th))
            cached = (kw_s, bg_s)
            log(f"  {engine.name} @ {th:.2f}: scored {len(kw.audio) / 16000 / 3600 + bg.hours:.2f} h "
                f"in {time.monotonic() - t0:.0f} s")
        kw_s, bg_s = cached
        curve += sweep(kw_s, engine.frame_times(len(kw_s)), kw.labels, bg_s, bg.hours, [float(th)], engine.trigger)
    return curve


@click.command()
@click.option("--engines", default=",".join(ENGINES), help="Comma-separated: " + ", ".join(ENGINES))
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--background-hours", default=2.0, type=float, help="Minimum; all held-out background is used.")
@click.option("--max-background-files", default=0, type=int, help="Cap for a quick run (0: all).")
@click.option("--out", default=str(HERE / "results" / "accuracy.json"), type=click.Path(dir_okay=False))
@click.option("--update", is_flag=True, help="Keep the other engines' rows already in --out (same streams).")
def main(engines, data_root, background_hours, max_background_files, out, update):
    kw, bg, info = build_streams(data_root, background_hours=background_hours,
                                 max_background_files=max_background_files)
    click.echo(f"streams: {info['keyword_clips']} keyword clips ({info['keyword_stream_min']} min), "
               f"{info['background_hours']} h background", err=True)
    loaded, missing = load_engines(engines.split(","))
    for name, why in missing.items():
        click.echo(f"{name}: not available here ({why}); running the others", err=True)
    results = {"streams": info, "unavailable": missing, "engines": {}}
    if update and Path(out).is_file():
        old = json.loads(Path(out).read_text())
        if old["streams"] != info:
            raise click.ClickException("--update: the existing results were made on other streams")
        results["engines"] = {k: v for k, v in old["engines"].items()}
        results["unavailable"] = {**old.get("unavailable", {}), **missing}
    for engine in loaded:
        curve = engine_curve(engine, kw, bg, log=lambda m: click.echo(m, err=True))
        row = {"curve": [(th, o.miss_rate, o.fa_per_hour) for th, o in curve]}
        for fa in FA_TARGETS:
            miss, th = miss_at_fa(curve, fa)
            row[f"miss_at_{fa}"] = miss
            row[f"threshold_at_{fa}"] = th
        results["engines"][engine.name] = row
        click.echo(f"{engine.name}: " + ", ".join(f"miss {100 * row[f'miss_at_{fa}']:.1f}% @ {fa} FA/h"
                                                   for fa in FA_TARGETS), err=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1))
    plot(results, HERE / "det.png")


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, row in results["engines"].items():
        pts = det_points([(miss, fa) for _, miss, fa in row["curve"]])
        ax.step([max(fa, 0.01) for fa, _ in pts], [m for _, m in pts], where="post", marker=".", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("false alarms per hour (0 drawn at 0.01)")
    ax.set_ylabel("miss rate")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    s = results["streams"]
    ax.set_title(f"alexa: {s['keyword_clips']} test clips at {s['snr_db']} dB SNR, {s['background_hours']} h background")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
