"""DET plots (miss rate against false alarms per hour), for the training report and bench."""

from __future__ import annotations

from pathlib import Path

from kws.eval.scoring import det_points


def plot_det(curves: dict[str, list[tuple[float, float]]], path: Path, title: str,
             resolution_per_hour: float | None = None) -> None:
    """``curves``: name -> (miss rate, false alarms per hour) per threshold.  Zero false
    alarms is drawn at a tenth of the resolution, so that operating point stays visible."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = (resolution_per_hour or 0.1) / 10
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, pts in curves.items():
        env = det_points(pts)
        ax.step([max(fa, floor) for fa, _ in env], [m for _, m in env], where="post", marker=".", label=name)
    ax.set_xscale("log")
    ax.set_xlabel(f"false alarms per hour (0 drawn at {floor:.2g})")
    ax.set_ylabel("miss rate")
    ax.set_ylim(0, 1)
    if resolution_per_hour:
        ax.axvline(resolution_per_hour, color="grey", lw=0.8, ls=":", label=f"1 false alarm ({resolution_per_hour:.2g}/h)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
