"""The numbers behind ``kws tune``: per-step probabilities of the user's audio, swept over thresholds.

Every model runs through the same Spotter as ``kws listen`` (file mode for folders, the
microphone for a device), and only the per-step probabilities are kept: the threshold
sweep itself is kws.eval.scoring's (``sweep_clips``, ``trigger_fires``), so the false alarms
counted here are the detections ``kws detect -t TH`` would print on the same files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from kws.audio.files import read_audio
from kws.errors import KwsError
from kws.eval.scoring import Outcome, peak_trigger_score, sweep_clips
from kws.eval.splits import audio_files
from kws.filemode import run_audio
from kws.spotter import Spotter

# Fine steps near 1, where the detectors' thresholds live (the shipped one is 0.9937).
THRESHOLDS = np.unique(np.round(np.concatenate([np.arange(0.30, 0.90, 0.05), np.arange(0.90, 0.99, 0.005),
                                                np.arange(0.990, 0.9995, 0.0005), [0.9995, 0.9998, 0.9999]]), 4))


@dataclass
class Probs:
    """Each model's per-step probabilities, one array per file (or one for a recording)."""
    names: list[str] = field(default_factory=list)
    per_model: list[list[np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0


def folder_files(folder: str | Path, what: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise KwsError(f"{what} {folder}: no such folder")
    files = audio_files(folder)
    if not files:
        raise KwsError(f"{what} {folder}: no .wav, .flac or .ogg files in it")
    return files


def file_probs(spotter: Spotter, files: list[Path], warn, on_progress: Callable[[int], None] | None = None) -> Probs:
    """Run every model over each file (file mode); a bad file is noted and skipped."""
    out = Probs(per_model=[[] for _ in spotter.models])
    for path in files:
        try:
            audio = read_audio(path, spotter.sample_rate, warn=warn)
        except KwsError as exc:
            warn(f"skipped: {exc}")
            continue
        _, probs = run_audio(spotter, audio, on_progress=on_progress)
        out.names.append(path.name)
        out.seconds += len(audio) / spotter.sample_rate
        for acc, p in zip(out.per_model, probs):
            acc.append(p)
    if not out.names:
        raise KwsError("none of the files could be read")
    return out


def microphone_probs(spotter: Spotter, device, minutes: float, block_ms: int = 100,
                     on_progress: Callable[[int], None] | None = None) -> Probs:
    """Record ``minutes`` from the microphone through the spotter; Ctrl-C ends early and keeps what came."""
    from kws.audio.capture import MicrophoneSource

    source = MicrophoneSource(None if device == "default" else device, spotter.sample_rate, block_ms)
    source.open()
    spotter.reset()
    per_model, wanted, got = [[] for _ in spotter.models], int(minutes * 60 * spotter.sample_rate), 0
    try:
        while got < wanted:
            block = source.read(timeout=2.0)
            if block is None:
                raise KwsError("the microphone delivered no audio for 2 s")
            _, probs = spotter.process_scores(block)
            for acc, p in zip(per_model, probs):
                acc.append(p)
            got += len(block)
            if on_progress:
                on_progress(len(block))
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    if got == 0:
        raise KwsError("no audio was recorded")
    return Probs(["microphone"], [[np.concatenate(p)] for p in per_model], got / spotter.sample_rate)


@dataclass
class ModelTuning:
    keyword: str
    current: float  # the threshold the config gives now
    curve: list[tuple[float, Outcome]]
    suggested: float | None  # None: no threshold in the sweep meets the target


def tune(spotter: Spotter, background: Probs, positives: Probs | None, target_fa: float) -> list[ModelTuning]:
    """Each model's sweep and the threshold suggested for ``target_fa`` false alarms per hour."""
    out = []
    for i, (model, trigger) in enumerate(zip(spotter.models, spotter.triggers)):
        params = trigger.params
        thresholds = np.unique(np.append(THRESHOLDS, params.threshold))
        curve = sweep_clips(positives.per_model[i] if positives else [], background.per_model[i],
                            background.seconds / 3600, thresholds, lambda th: replace(params, threshold=th))
        out.append(ModelTuning(model.keyword, params.threshold, curve, suggest(curve, target_fa)))
    return out


def suggest(curve: list[tuple[float, Outcome]], target_fa: float) -> float | None:
    """The lowest threshold meeting the false-alarm target, unless a higher one misses no more
    positives (then the highest such: same misses, fewer false alarms)."""
    ok = [(th, o) for th, o in curve if o.fa_per_hour <= target_fa]
    if not ok:
        return None
    lowest_th, lowest = min(ok, key=lambda x: x[0])
    if lowest.hits + lowest.misses == 0:
        return lowest_th
    return max(th for th, o in ok if o.misses <= lowest.misses)


@dataclass
class ClipScore:
    file: str
    keyword: str
    peak_probability: float
    peak_time_s: float
    trigger_score: float  # the highest threshold at which the trigger still fires on this clip
    current: float

    @property
    def fires_now(self) -> bool:
        return self.trigger_score >= self.current

    @property
    def rejected_above(self) -> float:
        """Smallest threshold (4 decimals, as written into the config) that rejects the clip."""
        return min(1.0, float(np.floor(self.trigger_score * 10_000) + 1) / 10_000)


def saved_clip_scores(spotter: Spotter, folder: str | Path, warn) -> list[ClipScore]:
    """Score the clips ``--save-detections`` wrote (``<time>-<keyword>-<p>.wav``).

    A clip named after a loaded model's keyword is scored by that model only; others by all."""
    files = folder_files(folder, "--false-alarms")
    probs = file_probs(spotter, files, warn)
    keywords = [m.keyword for m in spotter.models]
    out = []
    for j, name in enumerate(probs.names):
        named = [k for k in keywords if re.search(rf"-{re.escape(k)}-", name)]
        for i, (model, trigger) in enumerate(zip(spotter.models, spotter.triggers)):
            if named and model.keyword not in named:
                continue
            p = probs.per_model[i][j]
            peak = int(np.argmax(p)) if p.size else 0
            out.append(ClipScore(name, model.keyword, float(p[peak]) if p.size else 0.0, model.step_end_time(peak),
                                 peak_trigger_score(p, trigger.params), trigger.params.threshold))
    return out
