"""The JSON sidecar beside each ``.onnx``: what the runtime must know to use the model.

``models/alexa.onnx`` has ``models/alexa.json``.  Loading refuses a model whose sidecar
is missing, whose sha256 differs from the .onnx on disk (a half-copied or swapped file)
or whose front end differs from the runtime's (features would not mean the same thing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.configschema import load_dataclass
from kws.errors import KwsError
from kws.frontend import FrontendParams

FORMAT = "kws-model/1"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sidecar_path(onnx_path: Path) -> Path:
    return Path(onnx_path).with_suffix(".json")


@dataclass
class ModelMeta:
    keyword: str
    onnx_sha256: str
    frontend: dict
    frames_per_step: int
    threshold: float = 0.5
    consecutive: int = 3
    refractory_s: float = 1.5
    # graph names: state input -> matching state output
    state: dict = field(default_factory=lambda: {"conv_state": "conv_state_out",
                                                 "gru_state": "gru_state_out"})
    features_input: str = "features"
    probabilities_output: str = "probabilities"
    training: dict = field(default_factory=dict)  # provenance and dev metrics, informational
    # The speech-embedding stage (kws.model.stages.SecondStage as a dict); {} for none.
    second_stage: dict = field(default_factory=dict)
    format: str = FORMAT

    def __post_init__(self):
        # Types are checked by load_dataclass (as for the config); these are the ranges.
        # frames_per_step must also equal the graph's real step: KeywordModel checks that.
        checks = [
            (bool(self.keyword.strip()), "keyword must be a non-empty string"),
            (0.0 <= self.threshold <= 1.0, "threshold must be within [0, 1]"),
            (self.consecutive >= 1, "consecutive must be >= 1"),
            (self.frames_per_step >= 1, "frames_per_step must be >= 1"),
            (0.0 <= self.refractory_s <= 60.0, "refractory_s must be within [0, 60]"),
            (bool(self.state) and all(isinstance(k, str) and isinstance(v, str) for k, v in self.state.items()),
             "state must map each state input name to its output name (strings)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def write(self, onnx_path: Path) -> Path:
        path = sidecar_path(onnx_path)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, onnx_path: Path, frontend: FrontendParams) -> "ModelMeta":
        """Read and check the sidecar of ``onnx_path``; KwsError with one reason if unusable."""
        path = sidecar_path(onnx_path)
        if not path.is_file():
            raise KwsError(f"{onnx_path}: model sidecar {path} is missing")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise KwsError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KwsError(f"{path}: not a {FORMAT} sidecar")
        meta = load_dataclass(cls, data, f"{path}: sidecar")
        actual = sha256_of(onnx_path)
        if actual != meta.onnx_sha256:
            raise KwsError(f"{onnx_path}: sha256 {actual[:12]}… does not match its sidecar "
                           f"({meta.onnx_sha256[:12]}…); the model file is damaged or replaced")
        if meta.frontend != frontend.to_dict():
            diff = sorted(k for k in set(meta.frontend) | set(frontend.to_dict())
                          if meta.frontend.get(k) != frontend.to_dict().get(k))
            raise KwsError(f"{onnx_path}: trained with a different front end ({', '.join(diff)} differ)")
        return meta
