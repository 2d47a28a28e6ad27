"""Where a training epoch's CPU goes: composing clips (mixing, augmentation, log-mel) against
the training step (kws.train.fit.train_step: forward, loss, backward, clipping, update), per clip.

    python -m bench.train_cost configs/train-think_engine-text.yaml [--clips 128]

The two run side by side in training (one data-loader worker composes while the main process
trains), so an epoch takes about the larger of the two; ``synth.feature_reuse`` divides the
first.  Run it on an idle machine: it is a timing.
"""

from __future__ import annotations

import json
import time

import click
import numpy as np
import torch


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--clips", default=128, help="Clips composed and trained on per measurement.")
def main(config, clips):
    from kws.frontend import FrontendParams
    from kws.train.config import load_train_config
    from kws.train.data import load_corpus
    from kws.train.dataset import ClipDataset
    from kws.train.fit import train_step
    from kws.train.model import KeywordNet
    from kws.train.synth import augment_features
    from kws.train.train import split_data
    from kws.train.tts.synth import synthesize_positives

    cfg = load_train_config(config)
    pos, neg = (None, None)
    if cfg.word:  # the synthesised clips come from the clip cache (tts_cache_dir) when it has them
        pos, neg, _ = synthesize_positives(cfg, log=lambda m: click.echo(m, err=True))
    corpus = load_corpus(cfg.data, extra_positives=pos, extra_negatives=neg)
    ds = ClipDataset(split_data(corpus, "train", cfg.synth.real_share), cfg.synth, FrontendParams(),
                     cfg.net.stride, clips * 2, cfg.fit.seed, train=True)
    ds.reuse = 1
    torch.set_num_threads(1)
    t = time.process_time()
    items = [ds[i] for i in range(clips)]
    compose_ms = 1000 * (time.process_time() - t) / clips
    rng = np.random.default_rng(0)
    t = time.process_time()
    for x, _ in items:
        augment_features(rng, x.numpy(), cfg.synth)
    reaugment_ms = 1000 * (time.process_time() - t) / clips
    model = KeywordNet(cfg.net)
    opt = torch.optim.AdamW(model.parameters())
    out = {"config": config, "compose_ms_per_clip": compose_ms, "reaugment_ms_per_clip": reaugment_ms,
           "clip_s": cfg.synth.clip_s, "train_ms_per_clip": {}}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (64, 128):
            x = torch.stack([a for a, _ in items[:batch]])
            y = torch.stack([b for _, b in items[:batch]])
            for rep in range(4):  # the first pass warms up
                if rep == 1:
                    t = time.perf_counter()
                train_step(model, opt, x, y, cfg.fit)  # the step fit() takes, loss and clipping included
            out["train_ms_per_clip"][f"threads={threads},batch={batch}"] = 1000 * (time.perf_counter() - t) / 3 / batch
    click.echo(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
