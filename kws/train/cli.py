"""Glue between ``kws train`` and the recipe: config, overrides, progress on stderr."""

from __future__ import annotations

import shlex
import sys

import click

# Imported here, not inside train_command: `kws train` catches an ImportError of this module
# as "install the train extra", which must cover every training import (torch, scipy, tts).
from kws.train.config import load_train_config, slug
from kws.train.encoder import train_encoder
from kws.train.train import run
from kws.train.tts.synth import synthesize_positives


def train_command(config, word=None, out=None, data_root=None, argv=None, say=()) -> dict:
    overrides = {}
    if word:
        # A new word from text alone: its own output, no recordings of the default keyword.
        # Recordings of that word, if the data root has any; never the config's other keyword.
        overrides.update({"word": word, "out": f"models/{slug(word)}.onnx", "work_dir": f"runs/{slug(word)}",
                          "data.keyword": slug(word)})
        if config is None:
            overrides["data.train_on_recordings"] = False
    if say:
        overrides["say"] = list(say)
    if out:
        overrides["out"] = out
    if data_root:
        overrides["data.root"] = data_root
    cfg = load_train_config(config, overrides)
    command = "kws " + " ".join(shlex.quote(a) for a in (argv or sys.argv)[1:])

    def log(msg):
        click.echo(f"[train] {msg}", err=True)

    if cfg.encoder_words:
        return train_encoder(cfg, log=log)
    if not cfg.word:
        return run(cfg, command=command, log=log)
    positives, negatives, summary = synthesize_positives(cfg, log=log)
    return run(cfg, command=command, log=log, extra_positives=positives, extra_negatives=negatives,
               tts_summary=summary)
