"""What ``kws tune`` shows: rich tables, a CSV of the whole sweep, the PNG plot."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kws.errors import KwsError, install_hint
from kws.tune.tune import ClipScore, ModelTuning

ROWS = 14  # table rows per model (thinned evenly over where the outcome changes)


def _rows(t: ModelTuning) -> list[int]:
    """Indices of the sweep to show: the first threshold of each new outcome (false alarms or
    misses change), thinned to about ROWS, always with the current and the suggested one."""
    ths = [th for th, _ in t.curve]
    changes = [i for i, (_, o) in enumerate(t.curve)
               if i == 0 or (o.false_alarms, o.misses) != (t.curve[i - 1][1].false_alarms, t.curve[i - 1][1].misses)]
    if len(changes) > ROWS:
        changes = [changes[round(k * (len(changes) - 1) / (ROWS - 1))] for k in range(ROWS)]
    first_zero = next((i for i, (_, o) in enumerate(t.curve) if o.false_alarms == 0), None)
    marked = {ths.index(t.current)} | {i for i in (first_zero,) if i is not None}
    marked |= {ths.index(t.suggested)} if t.suggested is not None else set()
    return sorted(set(changes) | marked)


def print_tuning(console: Console, tunings: list[ModelTuning], bg_seconds: float, n_pos: int, target_fa: float):
    for t in tunings:
        table = Table(title=f"{t.keyword}: {bg_seconds / 60:.1f} min of background"
                            + (f", {n_pos} positive recordings" if n_pos else ""))
        table.add_column("threshold", justify="right")
        table.add_column("false alarms", justify="right")
        table.add_column("per hour", justify="right")
        if n_pos:
            table.add_column("missed", justify="right")
        table.add_column("")
        for i in _rows(t):
            th, o = t.curve[i]
            mark = " ".join(m for m, hit in (("current", th == t.current), ("suggested", th == t.suggested)) if hit)
            row = [f"{th:.4f}", str(o.false_alarms), f"{o.fa_per_hour:.2f}"]
            if n_pos:
                row.append(f"{o.misses}/{n_pos} ({100 * o.miss_rate:.0f} %)")
            table.add_row(*row, mark, style="bold" if mark else None)
        console.print(table)
        if t.suggested is None:
            console.print(f"{t.keyword}: no threshold up to {t.curve[-1][0]} keeps false alarms at or below "
                          f"{target_fa} per hour on this audio")
        else:
            console.print(f"{t.keyword}: suggested threshold {t.suggested:.4f} for at most {target_fa} false alarms "
                          f"per hour (current {t.current:.4f})")
    resolution = 3600 / bg_seconds
    if resolution > target_fa:
        console.print(f"note: with {bg_seconds / 60:.1f} min of background one false alarm is {resolution:.1f} per "
                      f"hour, so 0 false alarms is the only way to meet {target_fa}/h; longer recordings measure "
                      "finer")


def write_csv(path: str | Path, tunings: list[ModelTuning]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["keyword", "threshold", "false_alarms", "fa_per_hour", "hits", "misses", "miss_rate"])
        for t in tunings:
            for th, o in t.curve:
                miss = "" if math.isnan(o.miss_rate) else f"{o.miss_rate:.4f}"
                w.writerow([t.keyword, f"{th:.4f}", o.false_alarms, f"{o.fa_per_hour:.3f}", o.hits, o.misses, miss])


def can_plot() -> bool:
    """matplotlib can be imported (the tune extra is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(path: str | Path, tunings: list[ModelTuning], target_fa: float, bg_seconds: float, n_pos: int) -> None:
    """False alarms per hour (and the miss rate, with positives) against threshold."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise KwsError(f"the plot needs matplotlib: {install_hint('tune')} (or leave out --plot)") from None
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    ax2 = ax.twinx() if n_pos else None
    for k, t in enumerate(tunings):
        color = f"C{k}"
        ths = [th for th, _ in t.curve]
        ax.plot(ths, [o.fa_per_hour for _, o in t.curve], color=color, marker=".", label=f"{t.keyword}: false alarms/h")
        if ax2 is not None:
            ax2.plot(ths, [100 * o.miss_rate for _, o in t.curve], color=color, linestyle="--",
                     label=f"{t.keyword}: missed %")
        ax.axvline(t.current, color=color, linestyle=":", linewidth=1.2, label=f"{t.keyword}: current {t.current:.4f}")
        if t.suggested is not None:
            ax.axvline(t.suggested, color=color, linewidth=1.8, alpha=0.6,
                       label=f"{t.keyword}: suggested {t.suggested:.4f}")
    ax.axhline(target_fa, color="grey", linestyle="--", linewidth=1)
    ax.text(0.31, target_fa, f" target {target_fa}/h", va="bottom", fontsize=8, color="grey")
    ax.set_xscale("logit")  # spreads out 0.9 … 0.9999, where detector thresholds live
    ax.set_xlim(0.3, 0.9999)
    ticks = [0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]
    ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yscale("symlog", linthresh=max(0.1, target_fa))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threshold")
    ax.set_ylabel("false alarms per hour (background)")
    title = f"kws tune: {bg_seconds / 60:.1f} min of background"
    if ax2 is not None:
        ax2.set_ylabel(f"missed positives, % (of {n_pos})")
        ax2.set_ylim(-2, 102)
        title += f", {n_pos} positives"
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()
    if ax2 is not None:
        h2 = ax2.get_legend_handles_labels()
        handles = (handles[0] + h2[0], handles[1] + h2[1])
    ax.legend(*handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def print_clip_scores(console: Console, scores: list[ClipScore]) -> None:
    table = Table(title="saved detections: where each scored")
    for col in ("file", "model", "peak p", "at s", "trigger score", "fires now", "rejected at ≥"):
        table.add_column(col, justify="left" if col in ("file", "model") else "right")
    for s in scores:
        table.add_row(s.file, s.keyword, f"{s.peak_probability:.4f}", f"{s.peak_time_s:.2f}", f"{s.trigger_score:.5f}",
                      "yes" if s.fires_now else "no", f"{s.rejected_above:.4f}")
    console.print(table)
    for keyword in dict.fromkeys(s.keyword for s in scores):
        mine = [s for s in scores if s.keyword == keyword]
        need = max(s.rejected_above for s in mine)
        console.print(f"{keyword}: a threshold of {need:.4f} rejects all {len(mine)} saved clips "
                      f"({sum(s.fires_now for s in mine)} of them fire at the current {mine[0].current:.4f}); "
                      "check with `kws tune --background … --positives …` what it costs in misses")
