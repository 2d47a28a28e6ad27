"""Positives and hard negatives from text: many engines, voices, pitches and rates.

Each clip is drawn engine -> voice -> prosody with a generator seeded by ``tts_seed`` (not the
training seed) and looked up in the clip cache (kws.train.tts.cache) before it is
synthesised, so a second training of the same word, or a second training seed, synthesises
nothing.  Clips are resampled to 16 kHz and trimmed the same way as real recordings.
Levels are not kept: the clip composer sets every utterance to a random talker level, so an
engine's loudness carries no information.  Clips are split 85/15 into train/dev by index.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from kws.eval.splits import content_hash
from kws.train.data import Utterance, make_utterance
from kws.train.tts.cache import ClipCache, speak_cached
from kws.train.tts.confusables import confusable_texts, normalise, random_words
from kws.train.tts.engines import available_voices


@dataclass
class EngineSet:
    """The engines a run draws from: {name: (engine, voices)}, Kokoro's share of the clips
    (the rest are drawn from the other engines by their weights) and the clip cache."""
    voices: dict
    kokoro_share: float = 0.0
    cache: ClipCache | None = None


def kokoro_voices_dir(cfg) -> Path:
    if cfg.kokoro.voices_dir:
        return cfg.path(cfg.kokoro.voices_dir)
    return cfg.path(os.environ.get("KWS_DATA_ROOT") or cfg.data.root) / "tts" / "kokoro"


def engine_set(cfg, log=print) -> EngineSet:
    """The engines of a training config.  Kokoro without its model package or voice files is
    one line in the log (training goes on with the other engines), or an error with
    ``kokoro.require``."""
    voices = available_voices(cfg.tts_noncommercial)
    k = cfg.kokoro
    if k.share > 0 or k.require:
        from kws.train.tts.kokoro import KokoroEngine
        engine = KokoroEngine(kokoro_voices_dir(cfg), k.blend_share, k.accented_share, tuple(k.speed))
        reason = engine.missing()
        if reason is None:
            voices[engine.name] = (engine, engine.voices())
        elif k.require:
            raise KwsError(f"kokoro: {reason} (set kokoro.voices_dir or $KWS_DATA_ROOT; kokoro.require is true)")
        else:
            log(f"kokoro: {reason} (set kokoro.voices_dir); continuing with the other engines")
    cache = ClipCache(cfg.path(cfg.tts_cache_dir)) if cfg.tts_cache_dir else None
    return EngineSet(voices, k.share, cache)


def synthesize(texts: list[str], n: int, seed: int, include_noncommercial: bool = False, word: str = "",
               workers: int = 2, log=print, engines: EngineSet | None = None) -> tuple[list[Utterance], Counter]:
    engines = engines or EngineSet(available_voices(include_noncommercial))
    voices = engines.voices
    if not voices:
        raise KwsError("no offline TTS engine found; run: sudo bash kws/train/tts/install.sh .venv/bin/python")
    kokoro = voices.get("kokoro") if engines.kokoro_share > 0 else None
    names = sorted(e for e in voices if e != "kokoro")
    weights = np.array([voices[e][0].weight for e in names])
    weights /= max(weights.sum(), 1e-9)

    def one(i: int):
        rng = np.random.default_rng([seed, i])
        if kokoro and (not names or rng.random() < engines.kokoro_share):
            engine, vlist = kokoro
        else:
            engine, vlist = voices[names[int(rng.choice(len(names), p=weights))]]
        voice = engine.pick_voice(vlist, rng)
        text = texts[i % len(texts)]
        try:
            audio = speak_cached(engines.cache, engine, text, voice, rng)
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


def clip_voice(u: Utterance) -> str:
    """The "engine:voice" a synthetic clip was read by (its source is tts/ENGINE:VOICE/N)."""
    return u.source.split("/")[1]


def clip_engine(u: Utterance) -> str:
    return clip_voice(u).split(":")[0]


def voice_counts(utts: list[Utterance]) -> Counter:
    """Clips per voice ("engine:voice"), from the clips' sources; every Kokoro blend counts as
    "kokoro:blend"."""
    counts = Counter()
    for u in utts:
        voice = clip_voice(u)
        counts["kokoro:blend" if voice.startswith("kokoro:") and "+" in voice else voice] += 1
    return counts


def synthesize_positives(cfg, log=print, negatives: bool = True) -> tuple[dict, dict, dict]:
    """(positives by split, negatives by split, summary) for a TrainConfig with ``word`` set.

    Clips come from the clip cache where they are in it, so a resumed run, a second seed or a
    second word (the everyday-word negatives) synthesises only what it has not yet.
    ``negatives=False`` synthesises no confusable or everyday-word clips (their splits are
    empty): a head trained with ``head.synthetic_negatives: false`` would drop them, and they
    are about two thirds of a text-only word's synthesis time."""
    engines = engine_set(cfg, log)
    result = _synthesize_all(cfg, engines, log, negatives)
    if engines.cache is not None:
        c = engines.cache
        log(f"clip cache {c.folder}: {c.hits} clips found, {c.misses} synthesised")
        result[2]["cache"] = {"folder": str(c.folder), "found": c.hits, "synthesised": c.misses}
    return result


def spoken_forms(cfg) -> list[str]:
    """The texts the synthesisers read for a positive: ``say`` if given, else the word."""
    return [t.strip() for t in cfg.say] or [cfg.word.strip()]


def _synthesize_all(cfg, engines: EngineSet, log, negatives: bool = True) -> tuple[dict, dict, dict]:
    word = cfg.word.strip()
    forms = spoken_forms(cfg)
    log(f"synthesising {cfg.tts_positives} clips of {word!r}" + (f" said as {forms}" if cfg.say else ""))
    seed, nc = cfg.tts_seed, cfg.tts_noncommercial
    pos, pos_engines = synthesize(forms, cfg.tts_positives, seed, nc, word, log=log, engines=engines)
    screen = {"screened": False}
    if cfg.tts_screen:
        from kws.train.tts.screen import screen_positives

        pos, screen = screen_positives(pos, forms, cfg.tts_screen_log10_per_phone, log)
        pos_engines = Counter(clip_engine(u) for u in pos)
    said = {normalise(t) for t in [word] + forms}
    texts, others = [], []  # negatives=False: neither list is made, logged or reported in the summary
    if negatives:
        texts = [t for t in confusable_texts(forms[0], cfg.tts_confusable_words) if normalise(t) not in said]
        log(f"confusable texts ({len(texts)}): {', '.join(texts[:12])}{' …' if len(texts) > 12 else ''}")
        others = random_words(cfg.tts_random_words, seed + 2, " ".join([word] + forms))
    neg, neg_engines = synthesize(texts, cfg.tts_negatives, seed + 1, nc, "", log=log, engines=engines) \
        if texts and cfg.tts_negatives else ([], Counter())
    if others:
        log(f"synthesising {len(others)} clips of other words and phrases")
        more, more_engines = synthesize(others, len(others), seed + 3, nc, "", log=log, engines=engines)
        neg += more
        neg_engines += more_engines
    for u in neg:
        u.word = "tts-confusable"

    def split(utts):
        order = np.random.default_rng(cfg.fit.seed).permutation(len(utts))  # mix kinds into both splits
        cut = int(len(utts) * 0.85)
        return {"train": [utts[i] for i in order[:cut]], "dev": [utts[i] for i in order[cut:]], "test": []}

    hashes = {hashlib.sha256(u.audio.tobytes()).hexdigest() for u in pos}
    summary = {"said_as": forms, "positives": len(pos), "distinct_positives": len(hashes), "engines": dict(pos_engines),
               "voices": dict(voice_counts(pos)), "negative_engines": dict(neg_engines),
               "kokoro_share": engines.kokoro_share if "kokoro" in engines.voices else 0.0,
               "confusable_texts": texts, "negatives": len(neg), "random_word_clips": len(others),
               "noncommercial_voices": cfg.tts_noncommercial, "screen": screen}
    return split(pos), split(neg), summary
