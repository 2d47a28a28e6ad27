"""A multi-word encoder: one network trained on the real recordings of many words, that a
new word's training then starts from (``fit.init_from``).

openWakeWord's text-only models work because their lower layers come from a network trained
on a great deal of real speech; a text-only model of ours starts from nothing and sees real
voices only as negatives.  The encoder is the same network (kws.train.model) with one output
per word, trained with the same composed clips, labels and loss as a detector: each word's
output is 1 just after that word ends.  To tell a dozen words apart from each other and from
running speech of many speakers it has to learn features of real voices saying words.  A new
word's network then copies every layer but the head (and the encoder's feature
normalisation) and is trained as usual.

The held-out word must be left out of ``encoder_words`` and ``data.negative_words``; every
sentence of sentences/wuw is cut around its word, so no labelled word is heard as speech.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from kws.errors import KwsError
from kws.frontend import FrontendParams
from kws.train.data import load_corpus
from kws.train.dataset import ClipDataset, materialise
from kws.train.fit import fit
from kws.train.model import KeywordNet, NetParams
from kws.train.synth import SplitData
from kws.train.train import feature_stats

HEAD = ("head.weight", "head.bias")


def train_encoder(cfg, log=print) -> dict:
    started = time.monotonic()
    words = list(cfg.encoder_words)
    data_cfg = dataclasses.replace(cfg.data, keyword="")
    missing = [w for w in words if w not in data_cfg.negative_words and "*" not in data_cfg.negative_words]
    if missing:
        raise KwsError(f"encoder_words {missing} must also be in data.negative_words (the folders read)")
    log(f"loading recordings of {len(words)} words from {cfg.data.root}")
    corpus = load_corpus(data_cfg, progress=log, cut_every_sentence_word=True)
    channels = {w: i for i, w in enumerate(words)}

    def split(name: str) -> SplitData:
        utts = corpus.negatives[name]
        return SplitData([u for u in utts if u.word in channels], [u for u in utts if u.word not in channels],
                         corpus.background[name], speech=corpus.speech[name], channels=channels)

    train, dev_data = split("train"), split("dev")
    if not train.positives or not dev_data.positives:
        raise KwsError(f"no recordings of {words} in {cfg.data.root}/keywords")
    log(f"{len(train.positives)} training recordings of {len(words)} words, {len(train.negatives)} other clips")
    fe, net = FrontendParams(), dataclasses.replace(cfg.net, outputs=len(words))
    train_ds = ClipDataset(train, cfg.synth, fe, net.stride, cfg.synth.train_clips_per_epoch, cfg.fit.seed, train=True)
    dev = materialise(ClipDataset(dev_data, cfg.synth, fe, net.stride, cfg.synth.dev_clips, cfg.fit.seed + 1,
                                  train=False))
    model = KeywordNet(net)
    mean, std = feature_stats(dev[0])
    model.feat_mean.copy_(mean)
    model.feat_std.copy_(std)
    work = cfg.path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    # No dev streams (there is no one keyword) and no mining: the epoch is chosen on clip pAUC.
    # Each word's output sees its word in about 1/K of the clips that a one-word detector's
    # output sees, so its label-1 steps weigh K times as much: the same balance per output.
    fit_cfg = dataclasses.replace(cfg.fit, select_on_streams=False, mine_from_epoch=0,
                                  positive_weight=cfg.fit.positive_weight * len(words))
    result = fit(model, train_ds, dev, fit_cfg, work, log=log)
    out = cfg.path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": net.to_dict(), "words": words, "model": model.state_dict(),
                "best_epoch": result["best_epoch"], "dev_pauc": result["dev_pauc"]}, out)
    minutes = (time.monotonic() - started) / 60
    log(f"wrote encoder {out} ({len(words)} words, best epoch {result['best_epoch']}, "
        f"dev clip pAUC {result['dev_pauc']:.3f}) in {minutes:.1f} min")
    return {"fit": result, "seconds": minutes * 60, "out": str(out)}


def init_from_encoder(model: KeywordNet, saved: dict, path, log=print) -> None:
    """Copy every layer but the head from an encoder (``saved``, loaded from ``path``) of the same shape."""
    want = dataclasses.replace(model.p, outputs=1).to_dict()
    have = NetParams(**{**saved["net"], "outputs": 1}).to_dict()
    if want != have:
        diff = {k: (have[k], want[k]) for k in want if want[k] != have[k]}
        raise KwsError(f"fit.init_from {path}: the encoder's net differs from this config's: {diff} (encoder, config)")
    state = {k: v for k, v in saved["model"].items() if k not in HEAD}
    missing = model.load_state_dict(state, strict=False).missing_keys
    if set(missing) - set(HEAD):
        raise KwsError(f"fit.init_from {path}: the encoder lacks {sorted(set(missing) - set(HEAD))}")
    log(f"initialised from encoder {path} (words: {', '.join(saved['words'])}); the head starts fresh")
