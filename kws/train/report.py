"""The training report: markdown with data summary, splits, dev metrics, and PNG curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kws.eval.scoring import det_points  # noqa: E402


def plot_history(history: list[dict], path: Path) -> None:
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(ep, [h["train_loss"] for h in history], label="train")
    ax[0].plot(ep, [h["dev_loss"] for h in history], label="dev")
    ax[0].set_xlabel("epoch"); ax[0].set_ylabel("BCE loss"); ax[0].legend()
    ax[1].plot(ep, [h["dev_auc"] for h in history], label="AUC")
    ax[1].plot(ep, [h["dev_pauc"] for h in history], label="partial AUC (FPR <= 5%)")
    ax[1].set_xlabel("epoch"); ax[1].set_ylabel("dev clip metric"); ax[1].legend()
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def plot_det(curves: dict[str, list[tuple[float, float, float]]], path: Path, title: str) -> None:
    """DET curve: miss rate against false alarms per hour, one line per engine/model."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, curve in curves.items():
        pts = det_points([(miss, fa) for _, miss, fa in curve])
        ax.step([max(fa, 0.01) for fa, _ in pts], [m for _, m in pts], where="post", marker=".", label=name)
    ax.set_xscale("log"); ax.set_xlabel("false alarms per hour"); ax.set_ylabel("miss rate")
    ax.set_ylim(0, 1); ax.grid(True, which="both", alpha=0.3); ax.set_title(title); ax.legend()
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def write_report(path: Path, *, keyword: str, command: str, summary: dict, fit: dict, metrics: dict,
                 seconds: float, onnx_path: Path, extra: str = "") -> None:
    stem = path.stem
    plot_history(fit["history"], path.with_name(f"{stem}-training.png"))
    plot_det({keyword: metrics["curve"]}, path.with_name(f"{stem}-det.png"), f"{keyword}: dev stream")
    lines = [f"# Training report: `{keyword}`", "",
             f"- command: `{command}`",
             f"- time of this invocation: {seconds / 60:.1f} min (a resumed run counts only its own part)",
             f"- model: `{onnx_path.name}` ({onnx_path.stat().st_size / 1024:.0f} KiB)",
             f"- best epoch: {fit['best_epoch']} of {len(fit['history'])}, dev clip AUC {fit['dev_auc']:.4f}, "
             f"partial AUC (FPR <= 5%) {fit['dev_pauc']:.4f}", "",
             "## Data and splits", "",
             "| split | positives | hard negatives | background (min) |", "|---|---|---|---|"]
    for split, s in summary.items():
        negs = ", ".join(f"{w} {n}" for w, n in s["negatives"].items())
        lines.append(f"| {split} | {s['positives']} | {negs} | {s['background_minutes']} |")
    lines += [""]
    for split, s in summary.items():
        files = s["positive_files"]
        if files:
            lines.append(f"- {split} positives: {files[0]} … {files[-1]} ({len(files)} files)")
        lines.append(f"- {split} background: {', '.join(s['background_files'])}")
    lines += ["", "## Dev stream (runtime file mode)", "",
              f"{metrics['clips']} dev keyword clips ({metrics.get('clip_source', 'recordings')}) between dev background speech, noise at {metrics['snr_db']} dB SNR; "
              f"{metrics['background_hours']:.2f} h of dev background alone for false alarms.", "",
              "| false alarms per hour | miss rate | threshold |", "|---|---|---|"]
    for fa in (0.5, 1.0):
        th = metrics[f"threshold_at_{fa}_fa_per_hour"]
        lines.append(f"| {fa} | {_pct(metrics[f'miss_at_{fa}_fa_per_hour'])} | {'none' if th is None else f'{th:.4f}'} |")
    lines += ["", f"Threshold written to the sidecar: {metrics['threshold']:.4f}", "",
              "### Hard-negative confusion (dev clips of other words, at that threshold)", "",
              "| word | clips | fired | rate |", "|---|---|---|---|"]
    for w, c in metrics["confusion"].items():
        lines.append(f"| {w} | {c['clips']} | {c['fired']} | {_pct(c['rate'])} |")
    lines += ["", f"![DET curve]({stem}-det.png)", "", f"![training curves]({stem}-training.png)", "",
              "## Epochs", "", "| epoch | train loss | dev loss | dev AUC | dev pAUC | s |", "|---|---|---|---|---|---|"]
    for h in fit["history"]:
        lines.append(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['dev_loss']:.4f} | {h['dev_auc']:.4f} | "
                     f"{h['dev_pauc']:.4f} | {h['seconds']} |")
    if extra:
        lines += ["", extra]
    path.write_text("\n".join(lines) + "\n")
