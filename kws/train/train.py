"""``kws train``: the whole recipe, from a TrainConfig to .onnx + sidecar + report."""

from __future__ import annotations

import json
import time

import torch

from kws.frontend import FrontendParams
from kws.train.data import load_corpus
from kws.train.dataset import ClipDataset, materialise
from kws.train.evaluate import dev_benchmark, evaluate
from kws.train.export import export_onnx, write_sidecar
from kws.train.fit import fit
from kws.train.mining import BackgroundMiner
from kws.train.model import KeywordNet
from kws.train.report import write_report
from kws.train.select import DevSelector
from kws.train.synth import SplitData


def split_data(corpus, split: str, real_share: float = 0.5) -> SplitData:
    """The positives of a split.  When real recordings and synthetic clips are both present,
    the recordings are repeated until they make about ``real_share`` of the positives
    (never dropped): they are few, and they are real, but repeated too often the model
    learns those recordings instead of the word."""
    pos = corpus.positives[split]
    real = [u for u in pos if not u.source.startswith("tts/")]
    synthetic = len(pos) - len(real)
    if real and synthetic and real_share < 1:
        copies = int(round(real_share * synthetic / ((1 - real_share) * len(real))))
        pos = pos + real * max(0, copies - 1)
    return SplitData(pos, corpus.negatives[split], corpus.background[split], speech=corpus.speech.get(split, []))


def feature_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x.reshape(-1, x.shape[-1])
    return flat.mean(dim=0), flat.std(dim=0).clamp_min(1e-3)


def run(cfg, command: str = "kws train", log=print, extra_positives=None, extra_negatives=None,
        tts_summary: dict | None = None) -> dict:
    started = time.monotonic()
    fe = FrontendParams()
    work = cfg.path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out = cfg.path(cfg.out)
    keyword = cfg.word or cfg.data.keyword
    log(f"loading data from {', '.join(map(str, cfg.data.background)) or cfg.data.root}")
    corpus = load_corpus(cfg.data, extra_positives=extra_positives, extra_negatives=extra_negatives, progress=log)
    for split in ("train", "dev"):
        if not corpus.positives.get(split):
            from kws.errors import KwsError
            raise KwsError(f"no {split} positives for {keyword!r}: give recordings or a word to synthesise")
    if cfg.synth.world_variants:
        from kws.train.voices import world_variants
        t0 = time.monotonic()
        extra = world_variants(corpus.positives["train"], cfg.synth.world_variants, cfg.synth.world_f0,
                               cfg.synth.world_formant, cfg.fit.seed, cfg.synth.world_recordings)
        corpus.positives["train"] += extra
        log(f"WORLD: {len(extra)} converted copies of the {'' if cfg.synth.world_recordings else 'synthetic '}"
            f"training positives ({time.monotonic() - t0:.0f} s)")
    summary = corpus.summary()
    (work / "splits.json").write_text(json.dumps(summary, indent=1))
    net = cfg.net
    train_ds = ClipDataset(split_data(corpus, "train", cfg.synth.real_share), cfg.synth, fe, net.stride,
                           cfg.synth.train_clips_per_epoch, cfg.fit.seed, train=True)
    dev_ds = ClipDataset(split_data(corpus, "dev", cfg.synth.real_share), cfg.synth, fe, net.stride,
                         cfg.synth.dev_clips, cfg.fit.seed + 1, train=False)
    log(f"composing {len(dev_ds)} dev clips")
    dev = materialise(dev_ds)
    model = KeywordNet(net)
    mean, std = feature_stats(dev[0])
    model.feat_mean.copy_(mean)
    model.feat_std.copy_(std)
    if cfg.fit.init_from:
        from kws.train.warmstart import init_from
        init_from(model, cfg.path(cfg.fit.init_from), log)
    log(f"training {sum(p.numel() for p in model.parameters())} parameters on "
        f"{len(train_ds)} examples per epoch ({train_ds.composed_per_epoch} freshly composed)")
    log("building the dev benchmark streams")
    bench = dev_benchmark(cfg, corpus, keyword)
    selector = DevSelector(bench, fe, net.stride) if cfg.fit.select_on_streams else None
    miner = None
    if cfg.fit.mine_from_epoch:
        log("computing features of the training background for hard-negative mining")
        miner = BackgroundMiner(corpus.background["train"], fe, net.stride)
    fit_result = fit(model, train_ds, dev, cfg.fit, work, log=log, miner=miner, selector=selector)
    export_onnx(model, out)
    provenance = {"keyword": keyword, "command": command, "data_root": None if cfg.data.background else str(cfg.data.root),
                  **({"background": [str(b) for b in cfg.data.background]} if cfg.data.background else {}),
                  "text_only": bool(cfg.word) and not (cfg.data.train_on_recordings and corpus.eval_positives.get("train")),
                  "tts": tts_summary or {},
                  "net": net.to_dict(), "best_epoch": fit_result["best_epoch"], "dev_clip_auc": fit_result["dev_auc"],
                  **({"averaged_epochs": fit_result["averaged"]["epochs"]} if fit_result.get("averaged") else {})}
    write_sidecar(out, keyword, fe, net.stride, 0.5, 3, 1.5, provenance, model.state_names())
    log("evaluating on the dev stream through the runtime")
    metrics = evaluate(out, bench, cfg.eval.target_fa_per_hour, log=log)
    seconds = time.monotonic() - started
    provenance["dev"] = {g: v for g, v in metrics["row"].items() if g in ("all", "alone", "sentences")}
    provenance["dev_hours"] = metrics["row"]["hours"]
    provenance["train_minutes"] = round(seconds / 60, 1)
    write_sidecar(out, keyword, fe, net.stride, metrics["threshold"], 3, 1.5, provenance, model.state_names())
    report = out.with_name(out.stem + "-report.md")
    write_report(report, keyword=keyword, command=command, summary=summary, fit=fit_result, metrics=metrics,
                 seconds=seconds, onnx_path=out, extra=_tts_section(tts_summary))
    dev = metrics["row"]["all"]
    log(f"wrote {out}, {out.with_suffix('.json')} and {report} in {seconds / 60:.1f} min; "
        f"dev miss {100 * dev['miss_at_0.5']:.1f}% at 0.5 FA/h, {100 * dev['miss_at_1']:.1f}% at 1 FA/h")
    result = {"fit": fit_result, "metrics": metrics, "seconds": seconds, "report": str(report)}
    if cfg.head.enabled:
        from kws.train.head.run import add_head
        log("training the speech-embedding head (kws.train.head)")
        result["head"] = add_head(cfg, out, log=log, corpus=corpus)
    return result


def _tts_section(tts: dict | None) -> str:
    if not tts:
        return ""
    engines = ", ".join(f"{e} {n}" for e, n in sorted(tts["engines"].items(), key=lambda x: -x[1]))
    lines = [
        "## Synthetic speech", "",
        *([f"- said as: {', '.join(repr(t) for t in tts['said_as'])}"] if tts.get("said_as") else []),
        f"- positives: {tts['positives']} clips ({tts['distinct_positives']} distinct by content hash); engines: {engines}",
        f"- non-commercial voices (MBROLA, RHVoice evgeniy-eng/lyubov): {'used' if tts['noncommercial_voices'] else 'not used'}",
        f"- negatives: {tts['negatives']} clips: confusables ({', '.join(tts['confusable_texts'])}) and "
        f"{tts.get('random_word_clips', 0)} clips of random everyday words and phrases"]
    if "kokoro_share" in tts:
        lines.append(f"- Kokoro's share of the clips drawn: {100 * tts['kokoro_share']:.0f}%"
                     + ("" if tts["kokoro_share"] else " (not used)"))
    if "cache" in tts:
        c = tts["cache"]
        lines.append(f"- clip cache `{c['folder']}`: {c['found']} clips found, {c['synthesised']} synthesised")
    if tts.get("voices"):
        lines += ["", "| engine | positives | negatives | voices of the positives (clips) |", "|---|---|---|---|"]
        negs = tts.get("negative_engines", {})
        for engine in sorted(set(tts["engines"]) | set(negs), key=lambda e: -tts["engines"].get(e, 0)):
            mine = sorted(((v.split(":", 1)[1], n) for v, n in tts["voices"].items() if v.split(":")[0] == engine),
                          key=lambda x: (-x[1], x[0]))
            shown = ", ".join(f"{v} {n}" for v, n in mine[:8]) + (f", … {len(mine) - 8} more" if len(mine) > 8 else "")
            lines.append(f"| {engine} | {tts['engines'].get(engine, 0)} | {negs.get(engine, 0)} | {shown} |")
    return "\n".join(lines)
