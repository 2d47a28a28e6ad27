"""Embeddings of every negative the data folder has, computed once per machine.

Every word's head trains against the same negatives: the training and dev background, each
file also as augmented copies (speed, reverberation with noise or music mixed in, a telephone
channel), every word's recordings strung together (a word's own are left out when its head
trains), and the sentences of sentences/wuw with their keyword's time kept so that a word's
head never learns its own word as a negative.  Each item is one float16 array of embeddings
(about 4 MB per hour) under ``<cache>/<embedding sha256s>/``; its name is a hash of its
source files (path in the data root, size, content sha256), its augmentation and the seed, so an item is rebuilt only
when a source or the embedding changes, and a second word (or a second seed) reuses them all.
The test split is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kws.embedding.speech import EMBEDDING_SPAN, EMBEDDING_STEP, SpeechEmbedding
from kws.eval.benchmark import read_clipped, sentence_rows
from kws.eval.splits import audio_files, data_root, load_split_clips, session_split, split_background
from kws.train import augment

SR = 16000
AUGMENTATIONS = ("none", "speed", "reverb_noise", "telephone", "music")
CACHE_SPLITS = ("train", "dev")


@dataclass
class Item:
    """One cached negative: where it came from, and what of it a given word may not use."""
    key: str
    kind: str  # background | words | sentences
    split: str
    augmentation: str
    sources: list  # [path in the data root, size, sha256] of each source file
    word: str = ""  # words: whose recordings; sentences: the keyword said in them
    spans_s: list = field(default_factory=list)  # sentences: (start, end) of the keyword, in the item's time
    embeddings: int = 0
    seconds: float = 0.0

    def allowed(self, embeddings_count: int, keyword: str, margin_s: float = 0.3) -> np.ndarray:
        """Which embeddings a head for ``keyword`` may take as negatives (bool per embedding)."""
        ok = np.ones(embeddings_count, bool)
        if self.kind == "words" and self.word == keyword:
            ok[:] = False
        if self.kind == "sentences" and self.word == keyword:
            ends = (np.arange(embeddings_count) * EMBEDDING_STEP + EMBEDDING_SPAN) / SR
            for a, b in self.spans_s:  # a window whose last embedding hears any of the word
                ok &= ~((ends > a - margin_s) & (ends - EMBEDDING_SPAN / SR < b + margin_s))
        return ok


def _identity(path: Path, base: Path) -> list:
    """[path inside the data root, size, sha256 of the bytes]: the same files copied elsewhere,
    or again with new times, are the same sources (the data folder is 0.2 GB: hashing is ~1 s)."""
    data = path.read_bytes()
    return [Path(os.path.relpath(path.resolve(), base.resolve())).as_posix(), len(data), hashlib.sha256(data).hexdigest()]


def _key(sources: list, kind: str, split: str, augmentation: str, word: str, seed: int) -> str:
    text = json.dumps([sources, kind, split, augmentation, word, seed])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def string_clips(clips: list[np.ndarray], rng) -> np.ndarray:
    """Recordings one after another with short quiet gaps (any window is then some word)."""
    parts = []
    for c in clips:
        parts += [c, (rng.standard_normal(int(rng.uniform(0.1, 0.5) * SR)) * 1e-4).astype(np.float32)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def augmented(audio: np.ndarray, how: str, rng: np.random.Generator, beds: list[np.ndarray]) -> np.ndarray:
    """One copy of a negative as another room, channel or speaker speed would give it."""
    if how == "none":
        return audio
    if how == "speed":
        return augment.change_speed(audio, float(rng.choice([0.85, 0.92, 1.08, 1.15])))
    if how == "telephone":
        return augment.telephone(rng, augment.colour(rng, audio))
    if how in ("reverb_noise", "music"):
        out = augment.reverberate(audio, augment.room_impulse_response(rng, float(rng.uniform(0.2, 0.8))))[:len(audio)]
        if beds:
            bed = beds[int(rng.integers(len(beds)))]
            bed = np.resize(bed, len(out))
            level = np.sqrt(np.mean(out.astype(np.float64) ** 2) + 1e-12) / max(np.sqrt(np.mean(bed.astype(np.float64) ** 2)), 1e-6)
            out = out + bed * level * 10 ** (-float(rng.uniform(0, 15) if how == "music" else rng.uniform(5, 20)) / 20)
        return np.clip(out, -1, 1).astype(np.float32)
    raise ValueError(f"unknown augmentation {how!r} (known: {', '.join(AUGMENTATIONS)})")


class NegativeCache:
    def __init__(self, folder: str | Path, embedding: SpeechEmbedding):
        self.folder = Path(folder).expanduser() / embedding.cache_key()
        self.embedding = embedding

    def _paths(self, key: str) -> tuple[Path, Path]:
        return item_paths(self.folder, key)

    def load(self, item: Item) -> np.ndarray:
        return np.load(self._paths(item.key)[0], mmap_mode="r")

    def has(self, key: str) -> bool:
        return all(p.is_file() for p in self._paths(key))

    def _cached(self, key: str) -> Item | None:
        if not self.has(key):
            return None
        return Item(**json.loads(self._paths(key)[1].read_text()))

    def build(self, root: str | Path, augmentations=AUGMENTATIONS, seed: int = 0,
              log=lambda m: None, workers: int = 0) -> tuple[list[Item], dict]:
        """Every item of the data folder, computed where missing, on ``workers`` processes
        (0: one per core; the embedding graphs run one block per call, so one process keeps
        one core busy).  Returns the items and a summary (hours per kind and split, how many
        were computed now and how long it took)."""
        base = data_root(root)
        t0, items, missing = time.monotonic(), [], []
        bg = split_background(audio_files(base / "background"))
        beds = {s: [str(p) for p in bg[s] if p.parent.name != "speech"] for s in CACHE_SPLITS}

        def add(kind, split, aug, paths, word, spans=()):
            sources = [_identity(Path(p), base) for p in paths]
            key = _key(sources, kind, split, aug, word, seed)
            item = self._cached(key)
            if item is None:
                item = Item(key, kind, split, aug, sources, word, [list(s) for s in spans])
                missing.append((len(items), [str(p) for p in paths]))
            items.append(item)

        for split in CACHE_SPLITS:
            augs = augmentations if split == "train" else ("none",)  # dev: what the benchmark hears
            for path in bg[split]:
                for aug in augs:
                    add("background", split, aug, [path], "")
            seen: dict = {}
            for folder in sorted(p for p in (base / "keywords").iterdir() if p.is_dir()):
                paths = [f for f, _ in load_split_clips(folder, 0.15, 0.15, seen=seen)[split]]
                for aug in augs if paths else ():
                    add("words", split, aug, paths, folder.name)
            rows = [r for r in sentence_rows(base) if session_split(r["session"]) == split]
            for word in sorted({r["keyword"] for r in rows}):
                mine = [r for r in rows if r["keyword"] == word]
                paths = [base / "sentences" / "wuw" / r["file"] for r in mine]
                spans, t = [], 0.0
                for r, p in zip(mine, paths):  # 520 short files: cheap to read every time
                    spans.append((t + float(r["start_s"]), t + float(r["end_s"])))
                    t += len(read_clipped(p)) / SR + SENTENCE_GAP_S
                for aug in (a for a in augs if a != "speed"):  # a speed change would move the word's span
                    add("sentences", split, aug, paths, word, spans)

        workers = min(workers or os.cpu_count() or 1, len(missing)) if missing else 0
        jobs = [(str(self.folder), asdict(items[i]), paths, beds[items[i].split]) for i, paths in missing]
        done = 0

        def stored(i, item):
            nonlocal done
            items[i], done = item, done + 1
            log(f"  cached {item.kind} {item.split} {item.augmentation} {Path(item.sources[0][0]).stem}"
                f"{'…' if len(item.sources) > 1 else ''}: {item.seconds / 60:.1f} min of audio "
                f"({done} of {len(missing)}, {time.monotonic() - t0:.0f} s so far)")

        if workers == 1:
            beds_read: dict = {}  # this build's beds, let go when it ends (a worker keeps its own)
            for (i, _), job in zip(missing, jobs):
                stored(i, _compute(*job, embedding=self.embedding, beds=beds_read))
        elif workers > 1:
            from concurrent.futures import ProcessPoolExecutor, as_completed
            import multiprocessing

            # spawn: a forked child would inherit this process's onnxruntime sessions and threads
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(_compute, *job): i for (i, _), job in zip(missing, jobs)}
                for f in as_completed(futures):
                    stored(futures[f], f.result())
        summary = summarize(items)
        summary.update(computed_now=len(missing), seconds=round(time.monotonic() - t0, 1), folder=str(self.folder),
                       workers=workers)
        return items, summary


SENTENCE_GAP_S = 0.3  # quiet between two sentences of one item


def item_paths(folder: str | Path, key: str) -> tuple[Path, Path]:
    """An item's embeddings and its description."""
    return Path(folder) / f"{key}.npy", Path(folder) / f"{key}.json"


_worker_state: dict = {}  # a worker process's embedding graphs and beds, loaded once


def _compute(folder: str, item_dict: dict, paths: list[str], bed_paths: list[str], embedding=None,
             beds: dict | None = None) -> Item:
    """Compute and store one item (in a worker process, or in the caller's with ``embedding``
    and ``beds``, the bed audio read so far by path).

    Everything is derived from the item's own key, so the result is the same on any worker."""
    item = Item(**item_dict)
    if embedding is None:
        if "embedding" not in _worker_state:
            from kws.embedding.speech import speech_embedding
            _worker_state["embedding"] = speech_embedding()
        embedding = _worker_state["embedding"]
    if beds is None:
        beds = _worker_state.setdefault("beds", {})
    rng = np.random.default_rng(int(item.key[:8], 16))
    audios = [read_clipped(p) for p in paths]
    if item.kind == "background":
        audio = audios[0]
    elif item.kind == "words":
        audio = string_clips(audios, rng)
    else:
        gap = np.zeros(int(SENTENCE_GAP_S * SR), np.float32)
        audio = np.concatenate([x for a in audios for x in (a, gap)])
    if item.augmentation != "none":
        key = tuple(bed_paths)
        if key not in beds:
            beds[key] = [read_clipped(p) for p in bed_paths]
        audio = augmented(audio, item.augmentation, rng, beds[key])
    emb = embedding.embeddings(audio).astype(np.float16)
    item.embeddings, item.seconds = len(emb), round(len(audio) / SR, 2)
    npy, meta = item_paths(folder, item.key)
    npy.parent.mkdir(parents=True, exist_ok=True)
    tmp = npy.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, emb)
    os.replace(tmp, npy)  # a crash mid-write leaves no half item behind
    meta.write_text(json.dumps(asdict(item)))
    return item


def summarize(items: list[Item]) -> dict:
    hours: dict = {}
    for it in items:
        hours.setdefault(it.split, {}).setdefault(it.kind, 0.0)
        hours[it.split][it.kind] += it.seconds / 3600
    return {"items": len(items), "hours": {s: {k: round(v, 2) for k, v in d.items()} for s, d in hours.items()},
            "total_hours": round(sum(it.seconds for it in items) / 3600, 2)}
