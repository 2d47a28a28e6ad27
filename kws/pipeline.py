"""The Spotter a runtime Config (kws.config) describes: one builder for every command."""

from __future__ import annotations

from kws.config import override_models
from kws.model import KeywordModel
from kws.spotter import Spotter, trigger_params_for


def spotter_from_config(cfg, model_refs=(), threshold: float | None = None, stage: str | None = None,
                        first_threshold: float | None = None) -> Spotter:
    """``model_refs``, ``threshold``, ``stage`` and ``first_threshold`` act like ``-m``, ``-t``,
    ``--stage`` and ``--first-threshold`` (see ``override_models``)."""
    models, triggers = [], []
    for e in override_models(cfg.model_entries(), model_refs, threshold, stage, first_threshold):
        m = KeywordModel(e.path, stage=e.stage, first_threshold=e.first_threshold)
        models.append(m)
        triggers.append(trigger_params_for(
            m, threshold=e.threshold, consecutive=e.consecutive,
            refractory_s=cfg.trigger.refractory_s, mode=cfg.trigger.mode, window=cfg.trigger.window))
    return Spotter(models, triggers)
