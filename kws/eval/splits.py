"""How the recordings are split, shared by training and the benchmarks.

Crowd-sourced keyword clips are split by contiguous file-number ranges (``pv-17`` <
``pv-120``), the closest to a speaker-disjoint split that these recordings allow: their
names carry no speaker id, but a contributor's clips tend to be numbered together.
Files without numbers are split by sorted name.  Telephone recordings (``wuw-SSSSS``,
WUW Corpus II) are split by session, one speaker each, with the same assignment for
the word said alone and for the sentences of ``sentences/wuw``, so a session's speaker
is in one split for every word.  Background is split by *source*: the test split holds
whole sources that neither training nor dev ever hears (other speakers, another game's
voices, other music), dev holds other whole sources, so false alarms on dev and test
measure audio the model has never met rather than other minutes of the same recordings.
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
# Whole background sources held out from training (file prefix before ``_NNN``); about an
# hour each of speech, music and noise that share no recording, speaker or album with the
# training sources.  librispeech_clean has one utterance per speaker, so its last chunks
# are speakers never heard in training.  Any source not listed is a training source.
HELD_OUT_SOURCES = {
    "test": ("librispeech_other", "warzone2100_voices", "codec2_speech",  # speech
             "lincity_music", "librosa_music",  # music
             "lincity_sfx", "warzone2100_sfx", "librosa_nature"),  # noise
    "dev": ("hedgewars_voices", "librispeech_librosa",
            "hedgewars_music", "hedgewars_sfx", "sonicpi_ambient"),
}
# Chunks of a many-speaker source held out by chunk (each chunk: other speakers).
HELD_OUT_CHUNKS = {"librispeech_clean": {"dev": (11, 12), "test": (13,)}}
# WUW sessions: a fixed hash of the session id picks the split (70/15/15).
_SESSION_BUCKETS = 20


def data_root(configured: str | Path) -> Path:
    root = Path(os.environ.get("KWS_DATA_ROOT") or configured).expanduser()  # an empty variable is unset
    if not root.is_dir():
        raise KwsError(f"data root {root}: no such folder (give --data-root DIR or set $KWS_DATA_ROOT; "
                       f"in a training config: data.root)")
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


def source_of(path: Path) -> str:
    return re.sub(r"_\d+$", "", Path(path).stem)


def split_background(files: list[Path]) -> dict[str, list[Path]]:
    """Background files by split: held-out sources (and chunks) for dev and test."""
    out = {s: [] for s in SPLITS}
    for f in sorted(files):
        src = source_of(f)
        split = next((s for s, names in HELD_OUT_SOURCES.items() if src in names), "train")
        chunks = HELD_OUT_CHUNKS.get(src)
        if chunks:
            n = int(re.findall(r"\d+", f.stem)[-1])
            split = next((s for s, idx in chunks.items() if n in idx), "train")
        out[split].append(f)
    return out


def session_of(path: Path | str) -> str | None:
    """The telephone session of a WUW file (``wuw-00042.flac``, ``wuw-00042-007.ogg``)."""
    m = re.match(r"wuw-(\d+)", Path(path).name)
    return m.group(1) if m else None


def session_split(session: str) -> str:
    """train/dev/test for a WUW session, fixed by a hash of its id (not by file order)."""
    bucket = int(hashlib.sha256(session.encode()).hexdigest()[:8], 16) % _SESSION_BUCKETS
    return "train" if bucket < 14 else "dev" if bucket < 17 else "test"


def split_files(files: list[Path], dev_fraction: float, test_fraction: float) -> dict[str, list[Path]]:
    """Session split for WUW files, contiguous file-number ranges for the rest."""
    if files and all(session_of(f) for f in files):
        out = {s: [] for s in SPLITS}
        for f in files:
            out[session_split(session_of(f))].append(f)
        return out
    return split_contiguous(files, dev_fraction, test_fraction)


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
    for split, fs in split_files(files, dev_fraction, test_fraction).items():
        out[split] = []
        for f in fs:
            audio = np.clip(read_audio(f, warn=lambda m: None), -1.0, 1.0)
            h = content_hash(audio)
            if h in seen:
                continue
            seen[h] = split
            out[split].append((f, audio))
    return out


def split_user_background(files: list[Path], dev_share: float = 0.2) -> dict[str, list[Path]] | None:
    """Your own background files (``kws train --background``) by split, fixed by a hash of each
    file's name so that adding files moves no other: about ``dev_share`` of them for dev (at least
    one), the rest for training, none for test.  None when there are too few files (under 5) to
    hold whole files out: then each file is split in time instead (see kws.train.data)."""
    if len(files) < 5:
        return None
    def bucket(f):
        return int(hashlib.sha256(Path(f).name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    dev = [f for f in files if bucket(f) < dev_share] or [min(files, key=bucket)]
    return {"train": [f for f in files if f not in dev], "dev": dev, "test": []}
