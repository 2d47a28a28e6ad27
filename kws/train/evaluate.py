"""Dev evaluation through the runtime's own file mode (kws.filemode), as the bench does it.

Dev-split keyword clips between dev background speech with noise at 10 dB SNR, and at
least an hour of dev background alone; a threshold sweep gives miss rate against false
alarms per hour, and the threshold near the target false-alarm rate goes in the sidecar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kws.eval.scoring import miss_at_fa, sweep, trigger_fires
from kws.eval.streams import background_stream, keyword_stream
from kws.filemode import run_audio, step_times
from kws.model import KeywordModel
from kws.spotter import Spotter, trigger_params_for
from kws.train.data import Corpus

THRESHOLDS = np.unique(np.concatenate([np.linspace(0.05, 0.95, 91), 1 - np.logspace(-1.3, -4, 40)]))


def _split_background(corpus: Corpus, split: str):
    files, audio = corpus.background_files[split], corpus.background[split]
    speech = [a for f, a in zip(files, audio) if "/speech/" in f]
    noise = [a for f, a in zip(files, audio) if "/speech/" not in f]
    return speech or audio, noise or audio


def _scores(model: KeywordModel, audio: np.ndarray):
    spotter = Spotter([model])
    _, (probs,) = run_audio(spotter, audio)
    return probs, step_times(spotter, 0, len(probs))


def evaluate(onnx_path: Path, corpus: Corpus, eval_cfg, split: str = "dev", seed: int = 7, log=print) -> dict:
    model = KeywordModel(onnx_path)
    speech, noise = _split_background(corpus, split)
    real = corpus.eval_positives.get(split) or []
    clips = [u.audio for u in (real or corpus.positives[split])]
    kw = keyword_stream(clips, speech, noise, snr_db=eval_cfg.keyword_snr_db, seed=seed)
    bg = background_stream(corpus.background[split], eval_cfg.background_hours, seed=seed + 1)
    log(f"scoring {len(clips)} keyword clips ({kw.hours * 60:.1f} min) and {bg.hours:.2f} h of background")
    kw_probs, kw_times = _scores(model, kw.audio)
    bg_probs, _ = _scores(model, bg.audio)

    def params(th):
        return trigger_params_for(model, threshold=th)

    curve = sweep(kw_probs, kw_times, kw.labels, bg_probs, bg.hours, THRESHOLDS, params)
    result = {"clips": len(clips), "clip_source": "recordings" if real else "synthetic", "background_hours": round(bg.hours, 3), "snr_db": eval_cfg.keyword_snr_db,
              "curve": [(th, o.miss_rate, o.fa_per_hour) for th, o in curve]}
    for fa in (0.5, 1.0):
        miss, th = miss_at_fa(curve, fa)
        result[f"miss_at_{fa}_fa_per_hour"] = miss
        result[f"threshold_at_{fa}_fa_per_hour"] = th
    target = eval_cfg.target_fa_per_hour
    _, chosen = miss_at_fa(curve, target)
    result["threshold"] = chosen if chosen is not None else float(THRESHOLDS[-1])
    # Confusions: how often each other word (dev split) fires at the chosen threshold.
    confusion = {}
    p = params(result["threshold"])
    words = sorted({u.word for u in corpus.negatives[split]} - {"tts-confusable"})
    for word in words:
        wclips = [u.audio for u in corpus.negatives[split] if u.word == word]
        ws = keyword_stream(wclips, speech, noise, snr_db=eval_cfg.keyword_snr_db, seed=seed + 2)
        probs, times = _scores(model, ws.audio)
        fired = {i for t in times[trigger_fires(probs, p)] for i, (a, b) in enumerate(ws.labels) if a <= t <= b}
        confusion[word] = {"clips": len(wclips), "fired": len(fired), "rate": len(fired) / max(len(wclips), 1)}
    result["confusion"] = confusion
    return result
