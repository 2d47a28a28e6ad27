"""The trained model on the dev benchmark (kws.eval.benchmark) through the runtime's file mode.

The same streams and scoring as ``kws eval``: the word's dev recordings alone at several
SNRs and inside sentences, against every dev negative.  A word with no recordings in the
data root is scored on its held-aside synthetic clips instead, and the result says so.
The threshold at the target false-alarm rate goes in the sidecar.
"""

from __future__ import annotations

from pathlib import Path

from kws.eval.benchmark import Benchmark, SplitAudio, benchmark_for, build_benchmark, evaluate_engine
from kws.eval.engines import KwsEngine
from kws.eval.scoring import THRESHOLDS


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
        return build_benchmark(audio, tuple(cfg.eval.snr_db))
    return benchmark_for(cfg.data.root, cfg.data.keyword or keyword, "dev", tuple(cfg.eval.snr_db),
                         clips=clips, negatives=cfg.eval.other_words,
                         max_background_files=cfg.eval.max_background_files)


def evaluate(onnx_path: Path, bench: Benchmark, target_fa_per_hour: float, log=print) -> dict:
    log(f"scoring {bench.info['clips']} dev clips alone, {bench.info['sentences']} in sentences, "
        f"{bench.hours:.2f} h in all")
    row = evaluate_engine(KwsEngine(onnx_path), bench)
    chosen = row["all"].get(f"threshold_at_{target_fa_per_hour:g}")
    return {"benchmark": bench.info, "row": row,
            "threshold": chosen if chosen is not None else float(THRESHOLDS[-1])}
