"""Which recordings go where: keyword clips, hard negatives and background, split three ways.

Keyword clips are split by contiguous file-number ranges (``pv-17`` < ``pv-120``), the
closest to a speaker-disjoint split that these crowd-sourced recordings allow: their
names carry no speaker id, but a contributor's clips tend to be numbered together.
Files without numbers are split by sorted name.  Background chunks are assigned per
source in a fixed cycle, so every source with several chunks is in every split.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kws.audio.files import read_audio
from kws.errors import KwsError

SPLITS = ("train", "dev", "test")
AUDIO_EXT = (".flac", ".wav", ".ogg")
# Background chunk i of a source goes to _BG_CYCLE[i % 7]: 4/7 train, 2/7 dev, 1/7 test,
# which gives the dev split the hour of background its false-alarm estimate needs.
_BG_CYCLE = ("train", "dev", "train", "train", "dev", "test", "train")


def data_root(configured: str | Path) -> Path:
    root = Path(os.environ.get("KWS_DATA_ROOT", configured)).expanduser()
    if not root.is_dir():
        raise KwsError(f"data root {root}: no such folder (set data.root or $KWS_DATA_ROOT)")
    return root


def _number_key(path: Path):
    nums = re.findall(r"\d+", path.stem)
    return (0, int(nums[-1]), path.name) if nums and re.fullmatch(r"[a-z]+-\d+", path.stem) else (1, 0, path.name)


def audio_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXT), key=_number_key)


def split_contiguous(files: list[Path], dev_fraction: float, test_fraction: float) -> dict[str, list[Path]]:
    """First (1 - dev - test) of the ordered files train, then dev, then test."""
    n = len(files)
    n_test = int(round(n * test_fraction))
    n_dev = int(round(n * dev_fraction))
    n_train = n - n_dev - n_test
    return {"train": files[:n_train], "dev": files[n_train:n_train + n_dev], "test": files[n_train + n_dev:]}


def split_background(files: list[Path]) -> dict[str, list[Path]]:
    by_source = defaultdict(list)
    for f in sorted(files):
        by_source[(f.parent.name, re.sub(r"_\d+$", "", f.stem))].append(f)
    out = {s: [] for s in SPLITS}
    for chunks in by_source.values():
        for i, f in enumerate(chunks):
            out[_BG_CYCLE[i % len(_BG_CYCLE)] if len(chunks) > 1 else "train"].append(f)
    return out


def content_hash(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


def speech_bounds(audio: np.ndarray, sr: int = 16000, rel_db: float = -30.0) -> tuple[int, int]:
    """Start and end sample of the loud part of an utterance (10 ms energy, relative to its peak).

    The label is placed at the end of the word, so the end must not be the file's end
    (recordings carry silence and handling noise around the word).
    """
    hop = sr // 100
    n = len(audio) // hop
    if n == 0:
        return 0, len(audio)
    energy = (audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(energy)
    loud = np.flatnonzero(db >= db.max() + rel_db)
    return int(loud[0] * hop), int(min(len(audio), (loud[-1] + 1) * hop))


@dataclass
class Utterance:
    audio: np.ndarray  # trimmed to the spoken part plus 50 ms either side
    source: str
    word: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / 16000


def load_utterance(path: Path, word: str) -> Utterance:
    audio = read_audio(path, warn=lambda m: None)
    audio = np.clip(audio, -1.0, 1.0)
    start, end = speech_bounds(audio)
    pad = 800
    return Utterance(audio[max(0, start - pad): end + pad].copy(), str(path), word)


@dataclass
class Corpus:
    """Everything one training run reads, split into train/dev/test."""

    positives: dict[str, list[Utterance]] = field(default_factory=dict)
    negatives: dict[str, list[Utterance]] = field(default_factory=dict)
    background: dict[str, list[np.ndarray]] = field(default_factory=dict)
    background_files: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict:
        out = {}
        for s in SPLITS:
            words = defaultdict(int)
            for u in self.negatives.get(s, []):
                words[u.word] += 1
            out[s] = {
                "positives": len(self.positives.get(s, [])),
                "positive_files": [Path(u.source).name for u in self.positives.get(s, [])],
                "negatives": dict(sorted(words.items())),
                "background_files": [Path(f).name for f in self.background_files.get(s, [])],
                "background_minutes": round(sum(len(b) for b in self.background.get(s, [])) / 16000 / 60, 1),
            }
        return out


def load_corpus(cfg, extra_positives: dict[str, list[Utterance]] | None = None, progress=None) -> Corpus:
    """Read the recordings named by a DataConfig (``cfg``) from the data root."""
    root = data_root(cfg.root)
    progress = progress or (lambda msg: None)
    corpus = Corpus()
    kw_dir = root / "keywords" / cfg.keyword
    files = audio_files(kw_dir) if cfg.keyword and kw_dir.is_dir() else []
    if cfg.max_positives:
        files = files[: cfg.max_positives]
    for split, fs in split_contiguous(files, cfg.dev_fraction, cfg.test_fraction).items():
        corpus.positives[split] = [load_utterance(f, cfg.keyword) for f in fs]
    progress(f"positives: {sum(len(v) for v in corpus.positives.values())} clips of {cfg.keyword!r}")
    for split, utts in (extra_positives or {}).items():
        corpus.positives.setdefault(split, []).extend(utts)
    for s in SPLITS:
        corpus.negatives[s] = []
    for word in cfg.negative_words:
        if word == cfg.keyword:
            continue
        folder = root / "keywords" / word
        if not folder.is_dir():
            raise KwsError(f"negative word folder {folder}: no such folder")
        fs = audio_files(folder)
        if cfg.max_negatives_per_word:
            fs = fs[: cfg.max_negatives_per_word]
        for split, part in split_contiguous(fs, cfg.dev_fraction, cfg.test_fraction).items():
            corpus.negatives[split].extend(load_utterance(f, word) for f in part)
    progress(f"hard negatives: {sum(len(v) for v in corpus.negatives.values())} clips")
    bg_files = audio_files(root / "background")
    if not bg_files:
        raise KwsError(f"{root / 'background'}: no background audio found")
    for split, fs in split_background(bg_files).items():
        if cfg.max_background_files:
            fs = fs[: cfg.max_background_files]
        corpus.background_files[split] = [str(f) for f in fs]
        # Opus decodes can overshoot full scale slightly; clip so levels stay meaningful.
        corpus.background[split] = [np.clip(read_audio(f, warn=lambda m: None), -1, 1) for f in fs]
    progress(f"background: {sum(len(b) for v in corpus.background.values() for b in v) / 16000 / 3600:.1f} h")
    return corpus
