"""The runtime configuration (configs/default.yaml), checked key by key.

CLI flags override the file; the file overrides these defaults.  Every error names the
key: ``config configs/x.yaml: key 'trigger.refractory_s' must be a number, got 'soon'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Union

from kws.configschema import load_dataclass, read_yaml
from kws.errors import KwsError
from kws.trigger.trigger import MODES


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass
class ModelEntry:
    path: str = "alexa"  # a shipped model's name or a path to an .onnx file
    threshold: Optional[float] = None  # None: the sidecar's recommendation (the stage's)
    consecutive: Optional[int] = None
    # A model with a speech-embedding head (kws.model.stages): which stage runs ("gru", "head",
    # "cascade"; None: the sidecar's) and, for the cascade, the detector's threshold for asking the head.
    stage: Optional[str] = None
    first_threshold: Optional[float] = None

    def __post_init__(self):
        _require(self.threshold is None or 0.0 <= self.threshold <= 1.0, "threshold must be within [0, 1]")
        _require(self.first_threshold is None or 0.0 <= self.first_threshold <= 1.0,
                 "first_threshold must be within [0, 1]")
        _require(self.consecutive is None or self.consecutive >= 1, "consecutive must be >= 1")
        _require(self.stage in (None, "gru", "head", "cascade"), "stage must be gru, head or cascade")


@dataclass
class AudioConfig:
    device: Union[int, str, None] = None  # PortAudio index or part of the device name
    block_ms: int = 100  # audio callback block
    ring_s: float = 10.0  # ring buffer capacity between callback and worker

    def __post_init__(self):
        _require(10 <= self.block_ms <= 1000, "block_ms must be within [10, 1000]")
        _require(0.5 <= self.ring_s <= 600, "ring_s must be within [0.5, 600]")


@dataclass
class TriggerConfig:
    mode: str = "consecutive"
    window: int = 5  # steps averaged in "mean" mode
    refractory_s: float = 1.5

    def __post_init__(self):
        _require(self.mode in MODES, f"mode must be one of {', '.join(MODES)}")
        _require(self.window >= 1, "window must be >= 1")
        _require(0.0 <= self.refractory_s <= 60.0, "refractory_s must be within [0, 60]")


@dataclass
class ActionsConfig:
    chime: bool = True
    json: bool = True  # one JSON line per detection on stdout
    command: Optional[list] = None  # argument list, run without a shell
    callback: Optional[str] = None  # "package.module:function"
    timeout_s: float = 10.0  # an action still running after this is abandoned and logged

    def __post_init__(self):
        _require(self.command is None or (self.command and all(isinstance(a, str) for a in self.command)),
                 "command must be a non-empty list of strings")
        _require(self.callback is None or ":" in self.callback, "callback must look like module:function")
        _require(0.1 <= self.timeout_s <= 3600, "timeout_s must be within [0.1, 3600]")


@dataclass
class Config:
    models: list = field(default_factory=lambda: ["alexa"])
    audio: AudioConfig = field(default_factory=AudioConfig)
    trigger: TriggerConfig = field(default_factory=TriggerConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    log_level: str = "INFO"
    metrics_port: Optional[int] = None  # Prometheus text endpoint on 127.0.0.1
    save_detections: Optional[str] = None  # folder for ~2 s of audio around each detection

    def __post_init__(self):
        _require(self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
                 "log_level must be DEBUG, INFO, WARNING or ERROR")
        _require(self.metrics_port is None or 1 <= self.metrics_port <= 65535, "metrics_port must be 1-65535")

    def model_entries(self) -> list[ModelEntry]:
        return self.models  # normalised by load_config


def _model_entries(raw, where: str) -> list[ModelEntry]:
    if not isinstance(raw, list) or not raw:
        raise KwsError(f"{where}: key 'models' must be a non-empty list")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"path": item}
        out.append(load_dataclass(ModelEntry, item, where, f"models[{i}]."))
    return out


def _relative_to(folder: Path, entries: list[ModelEntry]) -> list[ModelEntry]:
    """Model paths written in a config file mean paths beside that file, not in the working
    directory (which is / under systemd); shipped names and absolute paths stay as they are."""
    from kws.model import is_shipped_name
    for e in entries:
        if not is_shipped_name(e.path) and not Path(e.path).is_absolute():
            e.path = str(folder / e.path)
    return entries


def override_models(entries: list[ModelEntry], model_refs=(), threshold: float | None = None,
                    stage: str | None = None, first_threshold: float | None = None) -> list[ModelEntry]:
    """The one rule for ``-m``, ``-t`` and ``--stage`` in every command: ``-m`` replaces the
    models; ``-t`` sets every model's threshold and keeps its other settings (``consecutive``);
    ``--stage`` runs every model at that stage."""
    if model_refs:
        entries = [ModelEntry(path=str(r)) for r in model_refs]
    if threshold is not None:
        entries = [replace(e, threshold=threshold) for e in entries]
    if stage is not None:
        entries = [replace(e, stage=stage) for e in entries]
    if first_threshold is not None:
        entries = [replace(e, first_threshold=first_threshold) for e in entries]
    return list(entries)


def load_config(path: str | Path | None = None, overrides: dict | None = None,
                threshold: float | None = None) -> Config:
    """Read a YAML config (or none), apply dotted-key overrides, validate everything.

    ``threshold`` is ``-t``: it applies to every model after the file is read, so that a
    reload re-reads each model's own settings (see ``override_models``)."""
    where = f"config {path}" if path is not None else "config"
    data = read_yaml(path, where, overrides)
    cfg = load_dataclass(Config, data, where)
    cfg.models = _model_entries(cfg.models, where)
    if path is not None and (overrides or {}).get("models") is None:  # CLI --model paths are the cwd's
        cfg.models = _relative_to(Path(path).parent, cfg.models)
    cfg.models = override_models(cfg.models, threshold=threshold)
    return cfg
