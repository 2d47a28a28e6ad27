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


def train_command(config, word=None, out=None, data_root=None, argv=None, say=(), background=(), head=False) -> dict:
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
    if background:
        overrides["data.background"] = list(background)
    if head:
        overrides["head.enabled"] = True
    cfg = load_train_config(config, overrides)
    check_inputs(cfg, data_root_given=bool(data_root))
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


def check_inputs(cfg, data_root_given: bool = False) -> None:
    """Everything a run reads, checked before any work (synthesis takes minutes): a bad folder
    fails now, naming the flag that sets it."""
    from kws.errors import KwsError
    from kws.eval.splits import data_root
    from kws.train.data import background_folder_files

    if cfg.data.background:
        if data_root_given:
            raise KwsError("give --data-root or --background, not both: --background replaces the data folder")
        if not cfg.word:
            raise KwsError("--background replaces the data folder, which holds the recordings of a word: "
                           "give --word to train from synthesised speech")
        if cfg.head.enabled:
            # The head's negatives are the shared embedding cache, built from the data folder's
            # hours of speech, music and noise; a few user folders are not that (issue 19).
            raise KwsError("the speech-embedding head (--head, head.enabled) trains against the data folder's "
                           "negative cache: it cannot run with --background; train without it")
        background_folder_files([cfg.path(str(f)) for f in cfg.data.background])
    else:
        try:
            data_root(cfg.data.root)
        except KwsError as exc:
            raise KwsError(f"{exc}; or train on your own audio without the data folder: "
                           f"kws train --word WORD --background DIR (README: training on your own audio)") from None
    if cfg.fit.init_from and not cfg.path(cfg.fit.init_from).is_file():
        raise KwsError(f"fit.init_from {cfg.fit.init_from}: no such file")
    out_dir = cfg.path(cfg.out).parent
    for parent in [out_dir, *out_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise KwsError(f"--out {cfg.out}: {parent} is a file, not a folder")
            break
