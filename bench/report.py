"""Fold bench/results/*.json into bench/RESULTS.md (the numbers come only from those runs).

    python -m bench.report

What a run cannot write about itself (which model the row is and why, a one-off run by hand
such as bench/aarch64.sh) lives in bench/results/notes/<section>.md and is folded in after its
section, so that rebuilding this file never drops it.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE / "results"


def _load(name):
    p = R / name
    return json.loads(p.read_text()) if p.is_file() else None


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _f(x, fmt="{:.1f}"):
    return "n/a" if x is None or x != x else fmt.format(x)


def _note(name: str) -> list[str]:
    p = R / "notes" / f"{name}.md"
    return [p.read_text().rstrip("\n"), ""] if p.is_file() else []


def build() -> str:
    acc, lat, soak = _load("accuracy.json"), _load("latency.json"), _load("soak.json")
    lines = ["# Benchmark results", "",
             "Every number below was produced by the commands shown, in one run per table, on the machine "
             "described; nothing is copied from elsewhere. Re-run them to refresh this file "
             "(`python -m bench.report` rebuilds it from `bench/results/*.json`).", ""]
    if lat:
        m = lat["machine"]
        lines += [f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}.", ""]
    if acc:
        from kws.eval.benchmark import table
        lines += ["## Accuracy", "",
                  "Command: `python -m bench.accuracy` (the same benchmark as `kws eval --split test`, "
                  "kws/eval/benchmark.py): per word, the test-split recordings said alone between held-out "
                  "background speech at 20, 10 and 0 dB SNR of music/noise, the test sessions' sentences with the "
                  "word inside (telephone words), and negatives: background from sources that no model of ours "
                  "trained on or was tuned on (other speakers, another game's voices, other music), that speech "
                  "over music, the other words' test recordings and sentences. Labels run from the word's start "
                  "to its end + 1 s; every engine with its own trigger and a 1.5 s refractory period. Misses are "
                  "pooled over the word-alone and sentence streams (columns per group follow); false alarms are "
                  "counted over every stream. One false alarm in H hours is 1/H per hour: the resolution is given "
                  "per word. The kws rows are the shipped models as they ship, each at its sidecar's stage: every "
                  "shipped word is a cascade, the GRU detector and the speech-embedding head "
                  "([models/README.md](../models/README.md) has each model's stages and `--stage gru` numbers).", ""]
        for word, res in acc["words"].items():
            info = res["benchmark"]
            lines += [f"### {word}", "",
                      f"{info['clips']} clips alone x {len(info['snr_db'])} SNRs, {info['sentences']} sentences; "
                      f"{info['hours']:.2f} h in all, so one false alarm is {1 / info['hours']:.2f} per hour.", ""]
            if res["engines"]:
                lines += table(res) + ["", f"![DET curve](det-{word}.png)", ""]
            for name, why in res.get("unavailable", {}).items():
                lines.append(f"- {name}: not available here ({why})")
            lines.append("")
    if lat:
        ours = lat["engines"].get("kws (ours)", {})
        lines += ["## Cost and latency", "",
                  f"Command: `python -m bench.latency` ({lat['stream_minutes']} min of audio, {lat['keywords']} "
                  "keywords; each engine in its own process, one thread, fed its native frame size; detection "
                  "latency in audio time from the end of the spoken word to the trigger, at the engine's "
                  "recommended threshold). RTF at 100 ms blocks: the same stream again, fed as the microphone "
                  "delivers it to `kws listen` (kws.audio.capture's default block); an engine whose API takes "
                  "any length gets one call per block (kws, microWakeWord), the others their whole native "
                  "frames.", "",
                  "| engine | frame | RTF (CPU s / audio s) | our RTF ÷ theirs | RTF at 100 ms blocks | "
                  "our ÷ theirs | hop p50 / p99 (ms) | "
                  "latency p50 / p90 (ms) | detected | peak RSS (MB) | start-up (s) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in lat["engines"].items():
            ratio = ours.get("rtf", float("nan")) / r["rtf"] if r["rtf"] else float("nan")
            mic = r.get("rtf_mic_blocks", float("nan"))
            mic_ratio = ours.get("rtf_mic_blocks", float("nan")) / mic if mic else float("nan")
            lines.append(f"| {name} | {r['frame_ms']:.0f} ms | {r['rtf']:.4f} | {_f(ratio, '{:.2f}')} | "
                         f"{_f(mic, '{:.4f}')} | {_f(mic_ratio, '{:.2f}')} | "
                         f"{r['hop_ms_p50']:.3f} / {r['hop_ms_p99']:.3f} | {_f(r['latency_ms_p50'], '{:.0f}')} / "
                         f"{_f(r['latency_ms_p90'], '{:.0f}')} | {r['detected']}/{r['keywords']} | "
                         f"{r['rss_mb']:.0f} | {r['startup_s']:.2f} |")
        for name, why in lat.get("unavailable", {}).items():
            lines.append(f"| {name} | not available here: {why} | | | | | | | | | |")
        lines += [""] + _note("latency")
        lines += ["A negative latency means the engine fired before the end of speech as estimated from "
                  "the clip's energy (last 10 ms frame within 30 dB of the loudest); a trailing breath or "
                  "room noise puts that estimate late."]
        if "paced" in lat:
            p = lat["paced"]
            lines += ["", f"Paced mode (kws only, audio delivered at real-time speed in 100 ms blocks through the "
                      f"Listener and ActionRunner, {p['audio_s']:.0f} s): wall-clock time from the last sample of "
                      f"the word to the action being called: p50 {_f(p['wall_latency_ms_p50'], '{:.0f}')} ms, "
                      f"p90 {_f(p['wall_latency_ms_p90'], '{:.0f}')} ms ({p['detected']}/{p['keywords']} detected)."]
        lines.append("")
    if soak:
        lines += ["## Soak", "",
                  f"Command: `python -m bench.soak --hours {soak['audio_hours']:g}` ({soak['audio_hours']:g} h of "
                  f"audio through source → Listener → Spotter → ActionRunner without real-time waits, "
                  f"{soak['wall_s']:.0f} s wall).", "",
                  f"- RSS: max {soak['rss_first_hour_max_mb']:.1f} MB during the first hour, "
                  f"{soak['rss_last_mb']:.1f} MB at the end (growth after the first hour: "
                  f"{soak['rss_growth_after_first_hour_mb']:+.2f} MB)",
                  f"- per-100 ms-block processing time, first vs last 10 min: p50 "
                  f"{soak['samples'][0]['block_ms_p50']:.3f} → {soak['samples'][-1]['block_ms_p50']:.3f} ms, p99 "
                  f"{soak['samples'][0]['block_ms_p99']:.3f} → {soak['samples'][-1]['block_ms_p99']:.3f} ms",
                  f"- {soak['blocks']} blocks, {soak['detections']} detections",
                  "- the RSS includes the half hour of decoded audio the soak loops over; what matters is that "
                  "it stays flat", "", "![soak](soak.png)", ""]
    lines += _second_stage() + _filemode_memory() + _note("aarch64")
    return "\n".join(lines)


def _second_stage() -> list[str]:
    res = _load("second_stage.json")
    if not res:
        return []
    lines = ["## Second stage", "",
             f"Command: `python -m bench.second_stage --model {res['model']}` (test-split audio, one thread, "
             "100 ms blocks through the Spotter; microWakeWord's alexa fed the same blocks). CPU seconds per "
             "audio second; the second stage's share is the cascade's minus the detector's.", "",
             "| stream | hours | detector alone | cascade | head alone | microWakeWord | cascade ÷ microWakeWord "
             "| head asks per hour | embeddings computed per hour | one ask p50 / p90 (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rows in res["streams"].items():
        by = {r["stage"]: r for r in rows}
        cpu = {k: by.get(k, {}).get("cpu_per_audio_s") for k in ("gru", "cascade", "head", "microwakeword")}
        c = by.get("cascade", {})
        ratio = cpu["cascade"] / cpu["microwakeword"] if cpu["cascade"] and cpu["microwakeword"] else None
        lines.append(f"| {name} | {by['gru']['audio_hours']:.2f} | "
                     + " | ".join(_f(cpu[k], "{:.4f}") for k in ("gru", "cascade", "head", "microwakeword"))
                     + f" | {_f(ratio, '{:.2f}')} | {_f(c.get('asks_per_hour'), '{:.0f}')} | "
                     f"{_f(c.get('embeddings_computed_per_hour'), '{:.0f}')} | {_f(c.get('ask_ms_p50'))} / "
                     f"{_f(c.get('ask_ms_p90'))} |")
    rss = res.get("listen_peak_rss_mb", {})
    if rss:
        lines += ["", "`kws listen` peak RSS: " + ", ".join(f"{v:.0f} MB with {k}" for k, v in rss.items()) + "."]
    return lines + [""] + _note("second_stage")


def _filemode_memory() -> list[str]:
    runs = [r for r in (_load("filemode_memory.json"), _load("filemode_memory_before.json")) if r]
    if not runs:
        return []
    lines = ["## File-mode memory", "",
             "`kws detect` on generated 44.1 kHz stereo 16-bit WAV files (the shipped sample looped), "
             "peak RSS (VmHWM) of the detecting process; files are read, averaged and resampled block by block.", "",
             "| kws | command | minutes | file (MB) | keywords found | peak RSS (MB) | wall (s) |",
             "|---|---|---|---|---|---|---|"]
    for res in runs:
        for r in res["runs"]:
            lines.append(f"| {res.get('label', '')} | `{res['command']}` | {r['minutes']:g} | {r['file_mb']:.1f} | "
                         f"{r['detections']}/{r['keywords']} | {r['peak_rss_mb']:.1f} | {r['wall_s']:.1f} |")
    return lines + [""]


if __name__ == "__main__":
    (HERE / "RESULTS.md").write_text(build())
    print(f"wrote {HERE / 'RESULTS.md'}")
