"""Words and phrases that sound like the keyword, to synthesise as hard negatives.

Candidates come from a word list (/usr/share/dict/words, Debian's wamerican) and from the
keyword's own parts; espeak-ng turns each into phonemes, and the nearest by phoneme edit
distance are kept, so that "computer" is trained against "commuter" and "compute".
"""

from __future__ import annotations

import difflib
import re
import subprocess
import tempfile
from pathlib import Path

WORD_LISTS = ("/usr/share/dict/words", "/usr/share/dict/american-english")


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def phonemes(texts: list[str]) -> list[str]:
    """espeak-ng phoneme strings (stress marks dropped), one per text, in one process."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(f"{t}.\n" for t in texts))
        name = f.name
    out = subprocess.run(["espeak-ng", "-q", "-x", "-v", "en-us", "-f", name], capture_output=True, text=True,
                         check=True, timeout=300).stdout
    Path(name).unlink()
    lines = [re.sub(r"[',%=_:#]", "", line.strip()) for line in out.splitlines() if line.strip()]
    if len(lines) != len(texts):
        raise RuntimeError(f"espeak-ng returned {len(lines)} phoneme lines for {len(texts)} texts")
    return lines


def _distance(a: str, b: str) -> float:
    return 1.0 - difflib.SequenceMatcher(None, a, b).ratio()


def keyword_parts(keyword: str) -> list[str]:
    """The keyword's words alone, and each word cut at its vowel groups ("alexa" -> "alex", "lexa")."""
    words = keyword.split()
    parts = set(words) if len(words) > 1 else set()
    for w in words:
        cuts = [m.end() for m in re.finditer(r"[aeiouy]+", w)][:-1]
        for c in cuts:
            for piece in (w[:c + 1], w[:c], w[c:], w[c - 1:]):
                if len(piece) >= 3 and piece != w:
                    parts.add(piece)
    return sorted(parts)


def confusable_texts(keyword: str, count: int = 40, word_list: str | None = None) -> list[str]:
    keyword = normalise(keyword)
    words = keyword.split()
    path = word_list or next((p for p in WORD_LISTS if Path(p).is_file()), None)
    vocab = []
    if path:
        vocab = sorted({w.lower() for w in Path(path).read_text(errors="ignore").split()
                        if re.fullmatch(r"[A-Za-z]{3,14}", w)})
    # cheap spelling pre-filter, then the phoneme comparison on a few thousand words
    pre = []
    for target in words:
        scored = sorted(vocab, key=lambda w: _distance(w, target))[:400]
        pre += scored
    candidates = sorted(set(pre) | set(keyword_parts(keyword)) - set(words) - {keyword})
    if not candidates:
        return []
    ph = phonemes(candidates)
    targets = phonemes(words)
    ranked = sorted(zip(candidates, ph), key=lambda cp: min(_distance(cp[1], t) for t in targets))
    chosen = [c for c, p in ranked if p not in targets][:count]
    if len(words) > 1:  # phrases: the keyword with one word swapped for a near neighbour
        for i, w in enumerate(words):
            near = [c for c in chosen if _distance(c, w) < 0.5][:3]
            chosen += [" ".join(words[:i] + [n] + words[i + 1:]) for n in near]
    parts = keyword_parts(keyword)
    out = list(dict.fromkeys(parts + chosen))
    return [t for t in out if normalise(t) != keyword]


def random_words(count: int, seed: int, exclude: str, word_list: str | None = None) -> list[str]:
    """Everyday words and word pairs: negatives of every shape, so that "an isolated word"
    is never mistaken for "the keyword"."""
    path = word_list or next((p for p in WORD_LISTS if Path(p).is_file()), None)
    if not path or count <= 0:
        return []
    vocab = sorted({w.lower() for w in Path(path).read_text(errors="ignore").split()
                    if re.fullmatch(r"[a-z]{2,12}", w)} - set(normalise(exclude).split()))
    rng = __import__("numpy").random.default_rng(seed)
    out = []
    for _ in range(count):
        n = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
        out.append(" ".join(vocab[int(i)] for i in rng.integers(0, len(vocab), n)))
    return [t for t in out if normalise(t) != normalise(exclude)]
