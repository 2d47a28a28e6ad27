"""fit.init_from: start a detector from an earlier network instead of random weights.

Two kinds of file: a multi-word encoder (kws.train.encoder; every layer but the head is copied)
or an earlier detector run's ``checkpoint.pt`` (its best epoch, every layer and the feature
normalisation: a fine-tune, e.g. with another loss or learning rate)."""

from __future__ import annotations

import torch

from kws.errors import KwsError
from kws.train.model import KeywordNet


def init_from(model: KeywordNet, path, log=print) -> None:
    try:
        saved = torch.load(path, weights_only=False)
    except FileNotFoundError:
        raise KwsError(f"fit.init_from {path}: no such file") from None
    if not isinstance(saved, dict) or not ("words" in saved or "state" in saved):
        raise KwsError(f"fit.init_from {path}: neither an encoder nor a training checkpoint")
    if "words" in saved:
        from kws.train.encoder import init_from_encoder
        init_from_encoder(model, saved, path, log)
        return
    best = saved["state"].get("best_model")
    if best is None:
        raise KwsError(f"fit.init_from {path}: the checkpoint has no finished epoch")
    try:
        model.load_state_dict(best)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise KwsError(f"fit.init_from {path}: the checkpoint's network differs from this config's net ({first})") \
            from None
    log(f"initialised from {path} (its best epoch, {saved['state']['best_epoch'] + 1}): every layer, a fine-tune")
