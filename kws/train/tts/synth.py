"""Positives and hard negatives from text: many engines, voices, pitches and rates.

Each clip is drawn engine -> voice -> prosody with a seeded generator, resampled to
16 kHz and trimmed the same way as real recordings.  Levels are not kept: the clip
composer sets every utterance to a random talker level, so an engine's loudness
carries no information.  Clips are split 85/15 into train/dev by index.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kws.errors import KwsError
from kws.train.data import Utterance, make_utterance
from kws.train.tts.confusables import confusable_texts
from kws.train.tts.engines import available_voices


def synthesize(texts: list[str], n: int, seed: int, include_noncommercial: bool = False, word: str = "",
               workers: int = 2, log=print) -> tuple[list[Utterance], Counter]:
    voices = available_voices(include_noncommercial)
    if not voices:
        raise KwsError("no offline TTS engine found; run: sudo bash kws/train/tts/install.sh .venv/bin/python")
    names = sorted(voices)
    weights = np.array([voices[e][0].weight for e in names])
    weights /= weights.sum()

    def one(i: int):
        rng = np.random.default_rng([seed, i])
        engine, vlist = voices[names[int(rng.choice(len(names), p=weights))]]
        voice = vlist[int(rng.integers(len(vlist)))]
        text = texts[i % len(texts)]
        try:
            audio = engine.speak(text, voice, rng)
        except Exception as exc:  # one engine failing on one text must not end the run
            return None, f"{voice}: {exc}"
        if audio.size < 1600 or float(np.abs(audio).max()) < 1e-3:
            return None, f"{voice}: empty output"
        return make_utterance(f"tts/{voice}/{i}", np.clip(audio, -1, 1), word or text), str(voice)

    out, used, failed = [], Counter(), []
    with ThreadPoolExecutor(workers) as pool:
        for k, (utt, info) in enumerate(pool.map(one, range(n))):
            if utt is None:
                failed.append(info)
            else:
                out.append(utt)
                used[info.split(":")[0]] += 1
            if (k + 1) % 200 == 0:
                log(f"synthesised {k + 1}/{n} clips")
    if failed:
        log(f"{len(failed)} synthesis calls failed, e.g. {failed[0]}")
    return out, used


def synthesize_positives(cfg, log=print) -> tuple[dict, dict, dict]:
    """(positives by split, negatives by split, summary) for a TrainConfig with ``word`` set."""
    word = cfg.word.strip()
    log(f"synthesising {cfg.tts_positives} clips of {word!r}")
    pos, pos_engines = synthesize([word], cfg.tts_positives, cfg.fit.seed, cfg.tts_noncommercial, word, log=log)
    texts = confusable_texts(word, cfg.tts_confusable_words)
    log(f"confusable texts ({len(texts)}): {', '.join(texts[:12])}{' …' if len(texts) > 12 else ''}")
    neg, _ = synthesize(texts, cfg.tts_negatives, cfg.fit.seed + 1, cfg.tts_noncommercial, "", log=log) \
        if texts and cfg.tts_negatives else ([], Counter())
    for u in neg:
        u.word = "tts-confusable"

    def split(utts):
        cut = int(len(utts) * 0.85)
        return {"train": utts[:cut], "dev": utts[cut:], "test": []}

    hashes = {hashlib.sha256(u.audio.tobytes()).hexdigest() for u in pos}
    summary = {"positives": len(pos), "distinct_positives": len(hashes), "engines": dict(pos_engines),
               "confusable_texts": texts, "negatives": len(neg), "noncommercial_voices": cfg.tts_noncommercial}
    return split(pos), split(neg), summary
