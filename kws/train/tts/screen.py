"""Screening synthetic positives with an off-the-shelf recogniser (issue 20, ``tts_screen``).

A synthesiser can say a word wrongly (a misread brand name, a swallowed syllable, a voice blend
that mumbles), and every such clip teaches the detector a wrong sound as the word.  Here
pocketsphinx's keyword spotter (its shipped US-English acoustic model and dictionary) listens to
each synthetic positive for the spoken form it was made from; a clip in which it does not find
the phrase is dropped.

The spotter's threshold is a likelihood, so it scales with the phrase's length: the threshold is
10 ** (log10_per_phone x phones).  The default -5 per phone was chosen on recordings of words that
no benchmark measures (Picovoice's jarvis and smart_mirror, Precise's athena and amelia: it finds
77-93 % of each word's own recordings and 0-13 % of the others'), so it is not tuned on a word the
project is scored on.  A phrase with a word outside the dictionary cannot be screened: the
screener says so and keeps every clip (give ``say`` a spelling the dictionary knows).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from kws.errors import KwsError, install_hint
from kws.train.tts.synth import clip_engine

PAD_S = 0.3  # silence either side: the spotter needs a little context to settle


def _decoder_class():
    try:
        from pocketsphinx import Decoder
    except ImportError as e:
        raise KwsError(f"tts_screen needs pocketsphinx: {install_hint('screen')}") from e
    return Decoder


class Screener:
    """hears(audio) -> whether the spotter finds one of the phrases in a 16 kHz clip."""

    def __init__(self, phrases: list[str], log10_per_phone: float = -5.0):
        decoder = _decoder_class()
        probe = decoder(keyphrase="yes", loglevel="FATAL")
        self.phones, self.missing = {}, []
        for phrase in phrases:
            words = phrase.lower().replace("-", " ").split()
            prons = [probe.lookup_word(w) for w in words]
            if not words or any(p is None for p in prons):
                self.missing += [w for w, p in zip(words, prons) if p is None]
                continue
            self.phones[" ".join(words)] = sum(len(p.split()) for p in prons)
        self._decoders = [decoder(keyphrase=p, kws_threshold=10.0 ** (log10_per_phone * n), loglevel="FATAL")
                          for p, n in self.phones.items()]

    @property
    def usable(self) -> bool:
        return bool(self._decoders)

    def hears(self, audio: np.ndarray, sample_rate: int = 16000) -> bool:
        pad = np.zeros(int(PAD_S * sample_rate), np.float32)
        pcm = (np.clip(np.concatenate([pad, audio.astype(np.float32), pad]), -1, 1) * 32767).astype(np.int16).tobytes()
        for dec in self._decoders:
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            if dec.hyp() is not None:
                return True
        return False


def screen_positives(utts: list, phrases: list[str], log10_per_phone: float = -5.0, log=print) -> tuple[list, dict]:
    """(the clips the spotter hears the word in, a summary with kept/dropped per engine)."""
    screener = Screener(phrases, log10_per_phone)
    if not screener.usable:
        log(f"tts_screen: {', '.join(sorted(set(screener.missing)))} not in pocketsphinx's dictionary; "
            f"every clip kept (set `say` to a spelling it knows)")
        return utts, {"screened": False, "not_in_dictionary": sorted(set(screener.missing))}
    kept, seen, dropped = [], Counter(), Counter()
    for u in utts:
        engine = clip_engine(u)
        seen[engine] += 1
        if screener.hears(u.audio):
            kept.append(u)
        else:
            dropped[engine] += 1
    log(f"tts_screen: kept {len(kept)} of {len(utts)} positives; dropped per engine: "
        + ", ".join(f"{e} {dropped[e]}/{seen[e]}" for e in sorted(seen)))
    return kept, {"screened": True, "phrases": screener.phones, "log10_per_phone": log10_per_phone,
                  "kept": len(kept), "of": len(utts),
                  "dropped_by_engine": {e: [dropped[e], seen[e]] for e in sorted(seen)}}
