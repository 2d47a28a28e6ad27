"""The trained model on the dev benchmark (kws.eval.benchmark) through the runtime's file mode.

The same streams and scoring as ``kws eval``: the word's dev recordings alone at several
SNRs and inside sentences, against every dev negative.  A word with no recordings in the
data root is scored on its held-aside synthetic clips instead, and the result says so.
The threshold at the target false-alarm rate goes in the sidecar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kws.eval.benchmark import Benchmark, SplitAudio, build_benchmark, evaluate_engine, load_split_audio
from kws.eval.engines import KwsEngine
from kws.eval.scoring import THRESHOLDS


def dev_recording_splits(cfg) -> tuple[str, ...]:
    """Which splits of the word's recordings the dev benchmark scores said alone: dev, and
    train too when training never heard them (eval.train_recordings_in_dev)."""
    unheard = cfg.eval.train_recordings_in_dev and not cfg.data.train_on_recordings and not cfg.data.background
    return ("dev", "train") if unheard else ("dev",)


def dev_recordings(cfg, corpus) -> list:
    """The word's recordings that the dev benchmark (and the head's checkpoint choice) score."""
    return [u for s in dev_recording_splits(cfg) for u in corpus.eval_positives.get(s, [])]


def dev_benchmark(cfg, corpus, keyword: str) -> Benchmark:
    recordings = bool(corpus.eval_positives.get("dev"))
    bench = dev_streams(cfg, keyword, None if recordings else [u.audio for u in corpus.positives["dev"]], corpus)
    bench.info["clip_source"] = "recordings" if recordings else "synthetic"
    return bench


def dev_streams(cfg, keyword: str, clips=None, corpus=None) -> Benchmark:
    """The config's dev benchmark: its word's dev recordings, or ``clips`` in their place.

    With your own background (data.background) the data root is not read: ``clips`` between and
    over your dev background, and that background alone as the negatives."""
    if cfg.data.background:
        from kws.train.data import is_speech

        pairs = list(zip(corpus.background_files["dev"], corpus.background["dev"]))
        speech = [a for name, a in pairs if is_speech(name)]
        beds = [a for name, a in pairs if not is_speech(name)]
        audio = SplitAudio(keyword, "dev", list(clips or []), [], [], speech, beds, [Path(n).name for n, _ in pairs])
    else:
        audio = load_split_audio(cfg.data.root, cfg.data.keyword or keyword, "dev", cfg.eval.other_words, clips,
                                 cfg.eval.max_background_files, more_clip_splits=dev_recording_splits(cfg)[1:])
    return with_augmented_negatives(build_benchmark(audio, tuple(cfg.eval.snr_db)), audio.beds,
                                    cfg.eval.augmented_negatives)


AUGMENT_PIECE_S = 30  # each piece of a negative stream gets its own room or channel


def with_augmented_negatives(bench: Benchmark, beds: list, augmentations, seed: int = 31) -> Benchmark:
    """Every negative stream of ``bench`` again as another room or channel would give it (the
    negative cache's augmentations, kws.train.head.cache.augmented), in 30 s pieces: more dev
    hours of held-out sources, in acoustic conditions the plain dev does not have."""
    if not augmentations:
        return bench
    from kws.eval.streams import Stream
    from kws.train.head.cache import augmented

    rng = np.random.default_rng(seed)
    more = []
    for how in augmentations:
        for name, group, s in bench.streams:
            if group != "negatives":
                continue
            step = AUGMENT_PIECE_S * 16000
            pieces = [augmented(s.audio[a:a + step], how, rng, beds) for a in range(0, len(s.audio), step)]
            more.append((f"{name}+{how}", "negatives", Stream(np.concatenate(pieces).astype(np.float32), [])))
    bench.streams += more
    bench.info["streams"].update({n: round(s.hours, 4) for n, _, s in more})
    bench.info["hours"] = round(sum(bench.info["streams"].values()), 3)
    bench.info["augmented_negatives"] = list(augmentations)
    return bench


def evaluate(onnx_path: Path, bench: Benchmark, target_fa_per_hour: float, log=print) -> dict:
    log(f"scoring {bench.info['clips']} dev clips alone, {bench.info['sentences']} in sentences, "
        f"{bench.hours:.2f} h in all")
    row = evaluate_engine(KwsEngine(onnx_path), bench)
    chosen = row["all"].get(f"threshold_at_{target_fa_per_hour:g}")
    return {"benchmark": bench.info, "row": row,
            "threshold": chosen if chosen is not None else float(THRESHOLDS[-1])}
