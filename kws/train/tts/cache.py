"""Synthesised clips on disk, one file per clip, shared by every training run.

A clip is named by the sha256 of what decides its audio: engine, voice (or blend), text,
prosody settings and the engine's version (program, model and voice data).  A second training
of the same word, or with another training seed, reads its clips back instead of
synthesising them again.  Clips are 16 kHz FLAC (16-bit); what a miss returns is the file read
back, so a clip is the same audio whether it was just made or found.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

FORMAT = "1"  # bump when the stored clips change meaning


def clip_key(engine: str, voice: str, text: str, prosody: dict, version: str) -> str:
    spec = json.dumps({"format": FORMAT, "engine": engine, "voice": voice, "text": text, "prosody": prosody,
                       "version": version}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(spec.encode()).hexdigest()


class ClipCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()
        self.hits = self.misses = 0
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.flac"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            audio, _ = sf.read(str(path), dtype="float32")
        except (OSError, RuntimeError, sf.LibsndfileError):
            with self._lock:
                self.misses += 1
            return None
        with self._lock:
            self.hits += 1
        return audio

    def put(self, key: str, audio: np.ndarray) -> np.ndarray:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # whole files only, even with two writers
        os.close(fd)
        try:
            sf.write(tmp, np.clip(audio, -1, 1), 16000, format="FLAC", subtype="PCM_16")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return sf.read(str(path), dtype="float32")[0]


def speak_cached(cache: ClipCache | None, engine, text: str, voice, rng: np.random.Generator) -> np.ndarray:
    """``engine.speak`` through the cache: the prosody is drawn first, then looked up."""
    prosody = engine.prosody(voice, rng)
    if cache is None:
        return engine.render(text, voice, prosody)
    key = clip_key(engine.name, voice.name, text, prosody, engine.version())
    audio = cache.get(key)
    if audio is None:
        audio = cache.put(key, engine.render(text, voice, prosody))
    return audio
