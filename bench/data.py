"""Benchmark audio from ../shared/data (or any folder of the same layout), nothing downloaded.

Keyword clips come from the test split (never trained on, never used to pick the
threshold); background from the dev and test splits of background/.
"""

from __future__ import annotations

import numpy as np

from kws.audio.files import read_audio
from kws.eval.splits import audio_files, data_root, load_split_clips, split_background
from kws.eval.streams import Stream, background_stream, keyword_stream


def _bg(paths):
    return [np.clip(read_audio(p, warn=lambda m: None), -1, 1) for p in paths]


def build_streams(root: str, keyword: str = "alexa", background_hours: float = 2.0, snr_db: float = 10.0,
                  seed: int = 11, max_background_files: int = 0) -> tuple[Stream, Stream, dict]:
    """Keyword stream and background-only stream; all held-out background is used (looped up to
    ``background_hours`` if shorter) unless ``max_background_files`` caps it for a quick run."""
    base = data_root(root)
    seen: dict = {}
    clips = [a for _, a in load_split_clips(base / "keywords" / keyword, 0.15, 0.15, seen=seen)["test"]]
    bg_split = split_background(audio_files(base / "background"))
    held_out = bg_split["dev"] + bg_split["test"]
    if max_background_files:
        held_out = [held_out[i] for i in np.random.default_rng(seed).permutation(len(held_out))[:max_background_files]]
    speech = _bg([p for p in held_out if p.parent.name == "speech"])
    noise = _bg([p for p in held_out if p.parent.name != "speech"])
    kw = keyword_stream(clips, speech, noise, snr_db=snr_db, seed=seed)
    bg = background_stream(speech + noise, background_hours, seed=seed + 1)
    info = {"keyword_clips": len(clips), "keyword_stream_min": round(len(kw.audio) / 16000 / 60, 1),
            "background_hours": round(bg.hours, 2), "snr_db": snr_db,
            "background_files": [p.name for p in held_out]}
    return kw, bg, info
