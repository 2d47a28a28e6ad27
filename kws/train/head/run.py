"""Add a speech-embedding head to a keyword model and choose how it runs.

``python -m kws.train.head CONFIG [--model M.onnx]`` (also the last step of ``kws train`` when
``head.enabled``): the shared negative cache is built where missing, the word's positives are
taken from the config's corpus (recordings and/or synthetic clips, as the detector had them),
the head is trained, and then the dev benchmark is scored through the runtime for the detector
alone, the head alone, and the cascade at each first-stage threshold and rule.  The stage with
the lowest mean miss over 0.1-2 false alarms per hour on dev is written into the sidecar (with
its threshold at the target rate); the head file ``<model>.head.onnx`` sits beside the model.
``--rescore`` keeps the head and only scores the stages again (after a change to how the
runtime runs them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from kws.embedding.speech import MEL_SHA256, EMBEDDING_SHA256, speech_embedding
from kws.frontend import FrontendParams
from kws.eval.engines import KwsEngine
from kws.eval.scoring import curve, miss_at_fa
from kws.model.sidecar import ModelMeta, sha256_of, sidecar_path
from kws.model.stages import SecondStage
from kws.train.head.cache import NegativeCache, string_clips
from kws.train.head.fit import SELECT_FA, NegativePool, fit_head
from kws.train.head.net import export_head
from kws.train.head.positives import positive_windows


def head_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".head.onnx")


def pools(cache: NegativeCache, items, keyword: str) -> tuple[NegativePool, NegativePool, dict]:
    by_split = {"train": ([], []), "dev": ([], [])}
    for it in items:
        arr = np.asarray(cache.load(it))
        by_split[it.split][0].append(arr)
        by_split[it.split][1].append(it.allowed(len(arr), keyword))
    train, dev = NegativePool(*by_split["train"]), NegativePool(*by_split["dev"])
    return train, dev, {"train_hours": round(train.hours, 2), "dev_hours": round(dev.hours, 2)}


def mean_miss(points, fa_targets=SELECT_FA) -> tuple[float, dict]:
    c = curve(points)
    misses = {fa: miss_at_fa(c, fa) for fa in fa_targets}
    return float(np.mean([m for m, _ in misses.values()])), misses


def measure_stages(model_path: Path, stage_base: dict, bench, cfg, log) -> list[dict]:
    """Every candidate through the runtime on the dev benchmark: detector, head, cascades."""
    from kws.eval.benchmark import score_engine, summarize

    work = cfg.path(cfg.work_dir) / "stages"
    work.mkdir(parents=True, exist_ok=True)
    cand_model = work / model_path.name
    shutil.copy(model_path, cand_model)
    shutil.copy(head_path(model_path), head_path(cand_model))
    base_meta = json.loads(sidecar_path(model_path).read_text())
    candidates = [("gru", {})]
    if "head" in cfg.head.modes:
        candidates.append(("head", {"mode": "head"}))
    if "cascade" in cfg.head.modes:
        candidates += [("cascade", {"mode": "cascade", "first_threshold": float(t1), "rule": rule})
                       for t1 in cfg.head.first_thresholds for rule in cfg.head.rules]
    rows, memo = [], {}
    for stage, extra in candidates:
        meta = dict(base_meta, second_stage={**stage_base, **extra})
        sidecar_path(cand_model).write_text(json.dumps(meta, indent=2) + "\n")
        t0 = time.monotonic()
        engine = KwsEngine(cand_model, stage=stage)
        if stage == "cascade":
            engine.spotter.streams[0].memo = memo  # one head: each segment is asked once
        points = score_engine(engine, bench)
        row = summarize(points, bench)
        metric, misses = mean_miss(points)
        asked = getattr(engine.spotter.streams[0], "asked", None)
        rows.append({"stage": stage, **extra, "mean_miss": round(metric, 4),
                     "miss": {f"{fa:g}": round(m, 4) for fa, (m, _) in misses.items()},
                     "threshold_at_0.5": misses[0.5][1], "row": row, "seconds": round(time.monotonic() - t0, 1),
                     **({"head_calls_last_stream": asked} if asked is not None else {})})
        log(f"  dev {stage}{''.join(f' {k}={v}' for k, v in extra.items() if k != 'mode')}: mean miss "
            f"{100 * metric:.1f}% over {', '.join(f'{fa:g}' for fa in SELECT_FA)} FA/h; "
            + ", ".join(f"{100 * m:.1f}% @ {fa:g}" for fa, (m, _) in misses.items()) + f" ({time.monotonic() - t0:.0f} s)")
    return rows


def synthetic_negatives(cfg, corpus, split: str) -> list:
    """The word's synthesised confusables of one split, or none when head.synthetic_negatives is off."""
    if not cfg.head.synthetic_negatives:
        return []
    return [u.audio for u in corpus.negatives.get(split, []) if u.word == "tts-confusable"]


def add_head(cfg, model_path: Path | None = None, log=print, corpus=None, extra_positives=None,
             extra_negatives=None, tts_summary: dict | None = None) -> dict:
    from kws.train.data import load_corpus
    from kws.train.evaluate import dev_recordings

    started = time.monotonic()
    model_path = Path(model_path or cfg.path(cfg.out))
    keyword = ModelMeta.load(model_path, FrontendParams()).keyword
    embedding = speech_embedding()
    cache = NegativeCache(cfg.head.cache_dir, embedding)
    log(f"negative embeddings: {cache.folder}")
    items, cache_summary = cache.build(cfg.data.root, tuple(cfg.head.augmentations), log=log)
    log(f"negative cache: {cache_summary['total_hours']} h in {cache_summary['items']} items "
        f"({cache_summary['computed_now']} computed now, {cache_summary['seconds']:.0f} s)")
    train_neg, dev_neg, hours = pools(cache, items, cfg.data.keyword or keyword)
    log(f"negative windows for {keyword!r}: {hours['train_hours']} h train, {hours['dev_hours']} h dev")
    if corpus is None:
        corpus = load_corpus(cfg.data, extra_positives=extra_positives, extra_negatives=extra_negatives,
                             progress=log)
    beds = corpus.background["train"]
    t0 = time.monotonic()
    real = [u.audio for u in corpus.positives["train"] if not u.source.startswith("tts/")]
    synthetic = [u.audio for u in corpus.positives["train"] if u.source.startswith("tts/")]
    parts = [positive_windows(real, beds, cfg.head.positive_copies, cfg.fit.seed, embedding)[0],
             positive_windows(synthetic, beds, cfg.head.synthetic_copies, cfg.fit.seed + 7, embedding)[0]]
    train_pos = np.concatenate(parts)
    for split, pool in (("train", train_neg), ("dev", dev_neg)):
        # The word's own synthetic negatives (confusables, everyday words), not in the shared cache.
        tts = synthetic_negatives(cfg, corpus, split)
        if tts:
            pool.add(embedding.embeddings(string_clips(tts, np.random.default_rng(cfg.fit.seed))))
            log(f"synthetic negatives ({split}): {len(tts)} clips")
    dev_utts = dev_recordings(cfg, corpus) or corpus.positives["dev"]
    dev_pos = positive_windows([u.audio for u in dev_utts], corpus.background["dev"], cfg.head.dev_copies,
                               cfg.fit.seed + 1, embedding)
    log(f"positive windows: {len(train_pos)} train from {len(real)} recordings x {cfg.head.positive_copies} and "
        f"{len(synthetic)} synthetic clips x {cfg.head.synthetic_copies}, "
        f"{len(dev_pos[0])} dev from {len(dev_utts)} clips ({time.monotonic() - t0:.0f} s)")
    net, fit_info = fit_head(train_pos, train_neg, dev_pos, dev_neg, cfg.head.fit, cfg.fit.seed, log=log)
    export_head(net, head_path(model_path))
    summary = choose_stage(cfg, model_path, corpus, keyword, log)
    summary.update(cache=cache_summary, negative_hours=hours, fit=fit_info,
                   positives={"train_windows": int(len(train_pos)), "dev_windows": int(len(dev_pos[0]))},
                   minutes=round((time.monotonic() - started) / 60, 1))
    if tts_summary:
        summary["tts"] = tts_summary  # clips per engine and voice, and what screening dropped
    meta = json.loads(sidecar_path(model_path).read_text())
    meta["training"]["second_stage"].update(negative_hours=hours, positives=summary["positives"],
                                            minutes=summary["minutes"], cache_hours=cache_summary["total_hours"],
                                            best_step=fit_info["best_step"])
    sidecar_path(model_path).write_text(json.dumps(meta, indent=2) + "\n")
    out = cfg.path(cfg.work_dir) / "head-summary.json"
    out.write_text(json.dumps(summary, indent=1, default=str))
    log(f"summary in {out}")
    return summary


def choose_stage(cfg, model_path: Path, corpus, keyword: str, log=print) -> dict:
    """Score the detector, the head (beside the model) and the cascades on the dev benchmark
    through the runtime, and write the best into the sidecar with its threshold."""
    from kws.train.evaluate import dev_benchmark

    stage_base = {"head": head_path(model_path).name, "head_sha256": sha256_of(head_path(model_path)),
                  "mel_sha256": MEL_SHA256, "embedding_sha256": EMBEDDING_SHA256}
    log("building the dev benchmark streams")
    bench = dev_benchmark(cfg, corpus, keyword)
    rows = measure_stages(model_path, stage_base, bench, cfg, log)
    # Ties (dev is decided by a few trials) go to the cheaper stage: the detector alone, then
    # the cascade that asks the head least often (the highest first-stage threshold).
    cost = {"gru": 0, "cascade": 1, "head": 2}
    best = min(rows, key=lambda r: (r["mean_miss"], cost[r["stage"]], -r.get("first_threshold", 0.0)))
    meta = json.loads(sidecar_path(model_path).read_text())
    th = best["threshold_at_0.5"]
    if best["stage"] == "gru":
        meta["second_stage"] = {}
        log("the detector alone is best on dev: no second stage written")
    else:
        extra = {k: v for k, v in best.items() if k in ("mode", "first_threshold", "rule")}
        meta["second_stage"] = SecondStage(**stage_base, **extra, threshold=round(float(th if th is not None else 0.99), 4)).to_dict()
    summary = {"keyword": keyword, "dev_hours": bench.hours,
               "stages": [{k: v for k, v in r.items() if k != "row"} for r in rows],
               "chosen": {k: v for k, v in best.items() if k != "row"}}
    # Every candidate's whole dev curve and false alarms by stream, for reading after the run.
    (cfg.path(cfg.work_dir) / "stages" / "dev-stages.json").write_text(
        json.dumps({"benchmark": bench.info, "rows": rows}, indent=1, default=str))
    meta.setdefault("training", {}).setdefault("second_stage", {}).update(
        stages=summary["stages"], chosen=summary["chosen"])
    sidecar_path(model_path).write_text(json.dumps(meta, indent=2) + "\n")
    ModelMeta.load(model_path, FrontendParams())
    log(f"chose {best['stage']} ({', '.join(f'{k}={v}' for k, v in best.items() if k in ('first_threshold', 'rule'))}) "
        f"for {model_path}")
    return summary


def main(argv=None) -> int:
    from kws.train.config import load_train_config

    ap = argparse.ArgumentParser(prog="python -m kws.train.head", description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--model", help="the .onnx to add the head to (default: the config's out)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (YAML value)")
    ap.add_argument("--rescore", action="store_true",
                    help="keep the model's head; only score the stages on dev again and rewrite the sidecar's choice")
    args = ap.parse_args(argv)
    import yaml
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = load_train_config(args.config, overrides)
    log = lambda m: print(f"[head] {m}", file=sys.stderr, flush=True)  # noqa: E731
    if args.rescore:
        # The dev benchmark is the word's dev recordings over dev background: no synthesis needed.
        from kws.train.data import load_corpus

        model_path = Path(args.model or cfg.path(cfg.out))
        if not head_path(model_path).is_file():
            raise SystemExit(f"error: {head_path(model_path)}: no head to rescore")
        keyword = ModelMeta.load(model_path, FrontendParams()).keyword
        choose_stage(cfg, model_path, load_corpus(cfg.data, progress=log), keyword, log)
        return 0
    positives = negatives = tts_summary = None
    if cfg.word:
        # Both halves, as kws train passes them: the synthetic confusables are the head's
        # nearest negatives; with head.synthetic_negatives off they are not synthesised at all.
        from kws.train.tts.synth import synthesize_positives
        positives, negatives, tts_summary = synthesize_positives(cfg, log=log,
                                                                 negatives=cfg.head.synthetic_negatives)
    add_head(cfg, args.model, log=log, extra_positives=positives, extra_negatives=negatives,
             tts_summary=tts_summary)
    return 0

