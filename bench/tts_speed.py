"""Synthesis speed of one engine mix: clips per second and real-time factor, then the same
clips again from the clip cache.

    python -m bench.tts_speed --text "hey computer" --clips 40 --kokoro-share 1.0 [--workers 2]

Uses a fresh cache folder (deleted afterwards), the data folder's Kokoro voices and the
installed engines, exactly as ``kws train`` draws them (kws.train.tts.synth).  The time is
wall time and includes loading the model in each worker; the audio duration is that of the
engines' output before trimming.  A timing: run it on an idle machine.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time

import click


@click.command()
@click.option("--text", default="hey computer", show_default=True)
@click.option("--clips", default=40, show_default=True)
@click.option("--kokoro-share", default=1.0, show_default=True, help="kokoro.share (1: every clip Kokoro)")
@click.option("--workers", default=2, show_default=True)
@click.option("--seed", default=1234, show_default=True)
def main(text, clips, kokoro_share, workers, seed):
    from kws.train.config import load_train_config
    from kws.train.tts.cache import speak_cached
    from kws.train.tts.synth import engine_set, synthesize, voice_counts

    folder = tempfile.mkdtemp(prefix="kws-tts-speed-")
    try:
        cfg = load_train_config(None, {"word": text, "tts_cache_dir": folder, "kokoro.share": kokoro_share})
        engines = engine_set(cfg, log=lambda m: click.echo(m, err=True))
        seconds = []  # the engines' output, before trimming

        def timed(cache, engine, t, voice, rng):
            audio = speak_cached(cache, engine, t, voice, rng)
            seconds.append(len(audio) / 16000)
            return audio

        import kws.train.tts.synth as synth
        synth.speak_cached, original = timed, synth.speak_cached
        try:
            t0 = time.monotonic()
            utts, used = synthesize([text], clips, seed, word=text, workers=workers, engines=engines,
                                    log=lambda m: click.echo(m, err=True))
            first = time.monotonic() - t0
            t0 = time.monotonic()
            synthesize([text], clips, seed, word=text, workers=workers, engines=engines, log=lambda m: None)
            second = time.monotonic() - t0
        finally:
            synth.speak_cached = original
        audio_s = sum(seconds[: len(seconds) // 2])
        click.echo(json.dumps({
            "text": text, "clips": len(utts), "workers": workers, "kokoro_share": kokoro_share,
            "engines": dict(used), "voices": dict(voice_counts(utts).most_common(8)),
            "wall_s": round(first, 2), "clips_per_s": round(len(utts) / first, 2),
            "s_per_clip_per_worker": round(first * workers / len(utts), 3),
            "audio_s": round(audio_s, 1), "real_time_factor_wall": round(first / audio_s, 3),
            "real_time_factor_per_core": round(first * workers / audio_s, 3),
            "cached_rerun_wall_s": round(second, 2), "cache": {"found": engines.cache.hits,
                                                               "synthesised": engines.cache.misses}}, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
