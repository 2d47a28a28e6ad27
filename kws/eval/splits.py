"""How the recordings are split, shared by training and the benchmarks.

Keyword clips are split by contiguous file-number ranges (``pv-17`` < ``pv-120``), the
closest to a speaker-disjoint split that these crowd-sourced recordings allow: their
names carry no speaker id, but a contributor's clips tend to be numbered together.
Files without numbers are split by sorted name.  Background chunks are assigned per
source in a fixed cycle, so every source with several chunks is in every split.
Duplicate recordings (same content, other name) are kept in the first split only.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
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


def load_split_clips(folder: Path, dev_fraction: float, test_fraction: float, limit: int = 0,
                     seen: dict | None = None) -> dict[str, list[tuple[Path, np.ndarray]]]:
    """Split a folder's clips and read them, dropping content already seen in any split.

    The crowd-sourced folders hold some recordings twice under different names; without
    this, one recording could be trained on and then scored as "unseen" dev data.
    ``seen`` (content hash -> split) is shared across folders by the caller.
    """
    seen = {} if seen is None else seen
    files = audio_files(folder)
    if limit:
        files = files[:limit]
    out = {}
    for split, fs in split_contiguous(files, dev_fraction, test_fraction).items():
        out[split] = []
        for f in fs:
            audio = np.clip(read_audio(f, warn=lambda m: None), -1.0, 1.0)
            h = content_hash(audio)
            if h in seen:
                continue
            seen[h] = split
            out[split].append((f, audio))
    return out
