"""Loading a training corpus: keyword clips, hard negatives and background, split three ways
(the split rules live in kws.eval.splits, shared with the benchmarks)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kws.audio.files import read_audio
from kws.errors import KwsError
from kws.eval.splits import (SPLITS, audio_files, content_hash, data_root, load_split_clips,  # noqa: F401
                              split_background, split_contiguous, _number_key)
from kws.eval.benchmark import sentence_rows
from kws.eval.splits import session_split, split_user_background
from kws.eval.streams import speech_bounds


@dataclass
class Utterance:
    audio: np.ndarray  # trimmed to the spoken part plus 50 ms either side
    source: str
    word: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / 16000


def make_utterance(path: Path, audio: np.ndarray, word: str) -> Utterance:
    start, end = speech_bounds(audio)
    pad = 800
    return Utterance(audio[max(0, start - pad): end + pad].copy(), str(path), word)


@dataclass
class Corpus:
    """Everything one training run reads, split into train/dev/test."""

    positives: dict[str, list[Utterance]] = field(default_factory=dict)
    # Real recordings of the keyword, scored in the dev stream even when not trained on.
    eval_positives: dict[str, list[Utterance]] = field(default_factory=dict)
    negatives: dict[str, list[Utterance]] = field(default_factory=dict)
    background: dict[str, list[np.ndarray]] = field(default_factory=dict)
    background_files: dict[str, list[str]] = field(default_factory=dict)
    # Running speech of many speakers, cut into foreground negatives at talker level: the
    # split's background speech and its sentences (sentences/wuw) without the keyword.
    speech: dict[str, list[np.ndarray]] = field(default_factory=dict)

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
                "speech_minutes": round(sum(len(b) for b in self.speech.get(s, [])) / 16000 / 60, 1),
            }
        return out


def load_corpus(cfg, extra_positives: dict[str, list[Utterance]] | None = None,
                extra_negatives: dict[str, list[Utterance]] | None = None, progress=None,
                cut_every_sentence_word: bool = False) -> Corpus:
    """Read the recordings named by a DataConfig (``cfg``) from the data root.
    ``cut_every_sentence_word``: keep only the speech around the word of every sentence (the
    multi-word encoder, for which those words are positives or held out)."""
    progress = progress or (lambda msg: None)
    if cfg.background:
        return user_corpus(cfg, extra_positives, extra_negatives, progress)
    root = data_root(cfg.root)
    corpus = Corpus()
    seen: dict = {}
    kw_dir = root / "keywords" / cfg.keyword
    corpus.positives = {s: [] for s in SPLITS}
    corpus.eval_positives = {s: [] for s in SPLITS}
    if cfg.keyword and kw_dir.is_dir():
        for split, clips in load_split_clips(kw_dir, cfg.dev_fraction, cfg.test_fraction,
                                             cfg.max_positives, seen).items():
            corpus.eval_positives[split] = [make_utterance(f, a, cfg.keyword) for f, a in clips]
            if cfg.train_on_recordings:
                corpus.positives[split] = list(corpus.eval_positives[split])
        progress(f"recordings of {cfg.keyword!r}: {sum(len(v) for v in corpus.eval_positives.values())} clips"
                 f"{'' if cfg.train_on_recordings else ' (evaluation only)'}")
    for split, utts in (extra_positives or {}).items():
        corpus.positives.setdefault(split, []).extend(utts)
    for s in SPLITS:
        corpus.negatives[s] = list((extra_negatives or {}).get(s, []))
    words = cfg.negative_words
    if "*" in words:
        words = sorted(p.name for p in (root / "keywords").iterdir() if p.is_dir())
    for word in words:
        if word == cfg.keyword:
            continue
        folder = root / "keywords" / word
        if not folder.is_dir():
            raise KwsError(f"negative word folder {folder}: no such folder")
        for split, clips in load_split_clips(folder, cfg.dev_fraction, cfg.test_fraction,
                                             cfg.max_negatives_per_word, seen).items():
            corpus.negatives[split].extend(make_utterance(f, a, word) for f, a in clips)
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
    for split in SPLITS:
        corpus.speech[split] = [a for f, a in zip(corpus.background_files[split], corpus.background[split])
                                if Path(f).parent.name == "speech"]
    for split, pieces in sentence_negatives(root, cfg.keyword, cut_every_sentence_word).items():
        corpus.speech[split] += pieces
    progress(f"running speech for foreground negatives: "
             f"{sum(len(b) for v in corpus.speech.values() for b in v) / 16000 / 60:.0f} min")
    return corpus


def sentence_negatives(root: Path, keyword: str, cut_every_word: bool = False,
                       margin_s: float = 0.15) -> dict[str, list[np.ndarray]]:
    """The sentences of sentences/wuw by split: whole when they hold another word, and the
    speech before and after the word when they hold ``keyword`` (any word, with ``cut_every_word``)."""
    out = {s: [] for s in SPLITS}
    for r in sentence_rows(root):
        audio = np.clip(read_audio(root / "sentences" / "wuw" / r["file"], warn=lambda m: None), -1, 1)
        split = session_split(r["session"])
        if r["keyword"] != keyword and not cut_every_word:
            out[split].append(audio)
            continue
        a, b = int((float(r["start_s"]) - margin_s) * 16000), int((float(r["end_s"]) + margin_s) * 16000)
        out[split] += [p for p in (audio[:max(a, 0)], audio[b:]) if len(p) > 8000]
    return out


DEV_TIME_SHARE = 0.2  # with under 5 background files, the last fifth of each is dev


def background_folder_files(folders: list[str | Path]) -> list[Path]:
    """The audio files of ``kws train --background`` folders; KwsError naming the first bad one."""
    files = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise KwsError(f"--background {folder}: no such folder")
        found = audio_files(path)
        if not found:
            raise KwsError(f"--background {folder}: no .wav, .flac or .ogg files in it")
        files += found
    return files


def is_speech(name: str | Path) -> bool:
    """Running speech: a file (or a piece of one, ``x.ogg [last 20 %]``) under a folder called
    speech, as in the data root's background/speech."""
    return any(part.lower() == "speech" for part in Path(str(name).split(" [")[0]).parent.parts)


def user_background(folders: list[str | Path]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """``kws train --background`` folders by split as (name, audio): whole files held out for dev
    when there are 5 or more (kws.eval.splits.split_user_background), else the last fifth of each
    file.  Deterministic: the same folders give the same split."""
    files = background_folder_files(folders)
    by_file = split_user_background(files)
    out = {s: [] for s in SPLITS}
    if by_file is not None:
        for split, fs in by_file.items():
            out[split] = [(str(f), np.clip(read_audio(f, warn=lambda m: None), -1, 1)) for f in fs]
        return out
    for f in files:
        audio = np.clip(read_audio(f, warn=lambda m: None), -1, 1)
        cut = int(len(audio) * (1 - DEV_TIME_SHARE))
        out["train"].append((f"{f} [first {100 * (1 - DEV_TIME_SHARE):.0f} %]", audio[:cut]))
        out["dev"].append((f"{f} [last {100 * DEV_TIME_SHARE:.0f} %]", audio[cut:]))
    return out


def user_corpus(cfg, extra_positives, extra_negatives, progress) -> Corpus:
    """A corpus from your own background folders and the synthesised clips; no data root."""
    corpus = Corpus()
    for s in SPLITS:
        corpus.positives[s] = list((extra_positives or {}).get(s, []))
        corpus.eval_positives[s] = []
        corpus.negatives[s] = list((extra_negatives or {}).get(s, []))
    for split, pieces in user_background(cfg.background).items():
        corpus.background_files[split] = [name for name, _ in pieces]
        corpus.background[split] = [a for _, a in pieces]
        corpus.speech[split] = [a for name, a in pieces if is_speech(name)]
    for split in ("train", "dev"):
        if not corpus.background[split]:
            raise KwsError(f"--background {', '.join(map(str, cfg.background))}: no {split} background")
    progress(f"your background ({', '.join(map(str, cfg.background))}): "
             + ", ".join(f"{s} {sum(len(b) for b in corpus.background[s]) / 16000 / 60:.1f} min"
                         for s in ("train", "dev"))
             + f"; running speech {sum(len(b) for v in corpus.speech.values() for b in v) / 16000 / 60:.1f} min")
    return corpus
