"""The training report: markdown with data summary, splits, dev metrics, and PNG curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kws.eval.benchmark import miss_breakdown  # noqa: E402
from kws.eval.plot import plot_det  # noqa: E402


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


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def write_report(path: Path, *, keyword: str, command: str, summary: dict, fit: dict, metrics: dict,
                 seconds: float, onnx_path: Path, extra: str = "") -> None:
    stem = path.stem
    plot_history(fit["history"], path.with_name(f"{stem}-training.png"))
    info, row = metrics["benchmark"], metrics["row"]
    plot_det({keyword: [(miss, fa) for _, miss, fa, _ in row["curve"]]}, path.with_name(f"{stem}-det.png"),
             f"{keyword}: dev benchmark", resolution_per_hour=row["fa_resolution_per_hour"])
    best = fit["history"][fit["best_epoch"] - 1]
    lines = [f"# Training report: `{keyword}`", "",
             f"- command: `{command}`",
             f"- time of this invocation: {seconds / 60:.1f} min (a resumed run counts only its own part)",
             f"- model: `{onnx_path.name}` ({onnx_path.stat().st_size / 1024:.0f} KiB)",
             f"- best epoch: {fit['best_epoch']} of {len(fit['history'])}"
             + (f", chosen by the dev miss rate around 0.5 FA/h (mean of 0.5/1/2 FA/h: {_pct(best['dev_miss_around'])}; "
                f"{_pct(best['dev_miss_0.5'])} at 0.5)" if "dev_miss_around" in best else "")
             + f"; dev clip AUC {fit['dev_auc']:.4f}, partial AUC (FPR <= 5%) {fit['dev_pauc']:.4f}"
             + (f"\n- shipped: the mean of the weights of epochs {', '.join(map(str, fit['averaged']['epochs']))} "
                f"(fit.average_best), not the best epoch alone" if fit.get("averaged") else ""), "",
             "## Data and splits", "",
             "| split | positives | hard negatives | background (min) | running speech (min) |", "|---|---|---|---|---|"]
    for split, s in summary.items():
        negs = ", ".join(f"{w} {n}" for w, n in s["negatives"].items())
        lines.append(f"| {split} | {s['positives']} | {negs} | {s['background_minutes']} | {s.get('speech_minutes', 0)} |")
    lines += [""]
    for split, s in summary.items():
        files = s["positive_files"]
        if files:
            lines.append(f"- {split} positives: {files[0]} … {files[-1]} ({len(files)} files)")
        lines.append(f"- {split} background: {', '.join(s['background_files'])}")
    lines += ["", "## Dev benchmark (runtime file mode, kws.eval.benchmark)", "",
              f"{info['clips']} dev clips ({info.get('clip_source', 'recordings')}) alone at "
              f"{', '.join(f'{x:g}' for x in info['snr_db'])} dB SNR, {info['sentences']} inside sentences; "
              f"negatives: dev background, speech over music, {info['other_word_clips']} clips of other words, "
              f"{info['other_sentences']} sentences of other words; {row['hours']:.2f} h in all, so one false alarm "
              f"is {row['fa_resolution_per_hour']:.2f} per hour.", "",
              "| false alarms per hour | miss rate (all) | alone | in sentences | threshold |", "|---|---|---|---|---|"]
    for fa in (0.1, 0.5, 1.0):
        th = row["all"][f"threshold_at_{fa:g}"]
        cells = [_pct(row[g][f"miss_at_{fa:g}"]) if g in row else "n/a" for g in ("all", "alone", "sentences")]
        lines.append(f"| {fa:g} | {' | '.join(cells)} | {'none' if th is None else f'{th:.4f}'} |")
    lines += ["", f"Threshold written to the sidecar: {metrics['threshold']:.4f}", "",
              "### False alarms by stream at the 0.5 FA/h threshold", "",
              "| stream | hours | false alarms |", "|---|---|---|"]
    for name, n in (row["false_alarms_by_stream_at_threshold"] or {}).items():
        lines.append(f"| {name} | {info['streams'][name]:.2f} | {n} |")
    missed = miss_breakdown(row, info)
    if missed:
        lines += ["", missed[0].upper() + missed[1:] + "."]
    lines += ["", f"![DET curve]({stem}-det.png)", "", f"![training curves]({stem}-training.png)", "",
              "## Epochs", "", "| epoch | train loss | dev loss | dev AUC | dev pAUC | dev miss @ 0.5 FA/h | s |",
              "|---|---|---|---|---|---|---|"]
    for h in fit["history"]:
        lines.append(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['dev_loss']:.4f} | {h['dev_auc']:.4f} | "
                     f"{h['dev_pauc']:.4f} | {_pct(h.get('dev_miss_0.5'))} | {h['seconds']} |")
    if extra:
        lines += ["", extra]
    path.write_text("\n".join(lines) + "\n")
