"""Positives and hard negatives from text: many engines, voices, pitches and rates.

Each clip is drawn engine -> voice -> prosody with a seeded generator, resampled to
16 kHz and trimmed the same way as real recordings.  Levels are not kept: the clip
composer sets every utterance to a random talker level, so an engine's loudness
carries no information.  Clips are split 85/15 into train/dev by index.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kws.errors import KwsError
from kws.eval.splits import content_hash
from kws.train.data import Utterance, make_utterance
from kws.train.tts.confusables import confusable_texts, normalise, random_words
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

    # n distinct clips: a voice whose engine has no sampling noise (all but Piper) can draw the
    # same prosody twice and say the same thing alike; such repeats and failed calls are drawn
    # again (further indices of the same seed), up to 4n calls in all.
    out, used, failed, seen, repeats, drawn = [], Counter(), [], set(), 0, 0
    with ThreadPoolExecutor(workers) as pool:
        while len(out) < n and drawn < 4 * n:
            batch = range(drawn, drawn + n - len(out))
            drawn += len(batch)
            for utt, info in pool.map(one, batch):
                if utt is None:
                    failed.append(info)
                elif (h := content_hash(utt.audio)) in seen:
                    repeats += 1
                else:
                    seen.add(h)
                    out.append(utt)
                    used[info.split(":")[0]] += 1
                    if len(out) % 200 == 0:
                        log(f"synthesised {len(out)}/{n} clips")
    if failed:
        log(f"{len(failed)} synthesis calls failed, e.g. {failed[0]}")
    if repeats:
        log(f"{repeats} clips repeated an earlier one and were drawn again")
    return out, used


def synthesize_positives(cfg, log=print) -> tuple[dict, dict, dict]:
    """(positives by split, negatives by split, summary) for a TrainConfig with ``word`` set.

    The result is cached in the work folder, so a resumed run does not synthesise again."""
    key = json.dumps([cfg.word.strip(), cfg.tts_positives, cfg.tts_negatives, cfg.tts_confusable_words,
                      cfg.tts_random_words, cfg.tts_noncommercial, cfg.fit.seed] + ([cfg.say] if cfg.say else []))
    cache = cfg.path(cfg.work_dir) / "tts-cache.pkl"
    if cache.is_file():
        with open(cache, "rb") as f:
            cached_key, result = pickle.load(f)
        if cached_key == key:
            log(f"using synthesised clips from {cache}")
            return result
    result = _synthesize_all(cfg, log)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as f:
        pickle.dump((key, result), f)
    return result


def spoken_forms(cfg) -> list[str]:
    """The texts the synthesisers read for a positive: ``say`` if given, else the word."""
    return [t.strip() for t in cfg.say] or [cfg.word.strip()]


def _synthesize_all(cfg, log) -> tuple[dict, dict, dict]:
    word = cfg.word.strip()
    forms = spoken_forms(cfg)
    log(f"synthesising {cfg.tts_positives} clips of {word!r}" + (f" said as {forms}" if cfg.say else ""))
    pos, pos_engines = synthesize(forms, cfg.tts_positives, cfg.fit.seed, cfg.tts_noncommercial, word, log=log)
    said = {normalise(t) for t in [word] + forms}
    texts = [t for t in confusable_texts(forms[0], cfg.tts_confusable_words) if normalise(t) not in said]
    log(f"confusable texts ({len(texts)}): {', '.join(texts[:12])}{' …' if len(texts) > 12 else ''}")
    neg, _ = synthesize(texts, cfg.tts_negatives, cfg.fit.seed + 1, cfg.tts_noncommercial, "", log=log) \
        if texts and cfg.tts_negatives else ([], Counter())
    others = random_words(cfg.tts_random_words, cfg.fit.seed + 2, " ".join([word] + forms))
    if others:
        log(f"synthesising {len(others)} clips of other words and phrases")
        more, _ = synthesize(others, len(others), cfg.fit.seed + 3, cfg.tts_noncommercial, "", log=log)
        neg += more
    for u in neg:
        u.word = "tts-confusable"

    def split(utts):
        order = np.random.default_rng(cfg.fit.seed).permutation(len(utts))  # mix kinds into both splits
        cut = int(len(utts) * 0.85)
        return {"train": [utts[i] for i in order[:cut]], "dev": [utts[i] for i in order[cut:]], "test": []}

    hashes = {hashlib.sha256(u.audio.tobytes()).hexdigest() for u in pos}
    summary = {"said_as": forms, "positives": len(pos), "distinct_positives": len(hashes), "engines": dict(pos_engines),
               "confusable_texts": texts, "negatives": len(neg), "random_word_clips": len(others),
               "noncommercial_voices": cfg.tts_noncommercial}
    return split(pos), split(neg), summary
