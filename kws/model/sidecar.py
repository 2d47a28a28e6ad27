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
    format: str = FORMAT

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
        try:
            meta = cls(**data)
        except TypeError as exc:
            raise KwsError(f"{path}: bad sidecar fields ({exc})") from None
        actual = sha256_of(onnx_path)
        if actual != meta.onnx_sha256:
            raise KwsError(f"{onnx_path}: sha256 {actual[:12]}… does not match its sidecar "
                           f"({meta.onnx_sha256[:12]}…); the model file is damaged or replaced")
        if meta.frontend != frontend.to_dict():
            diff = sorted(k for k in set(meta.frontend) | set(frontend.to_dict())
                          if meta.frontend.get(k) != frontend.to_dict().get(k))
            raise KwsError(f"{onnx_path}: trained with a different front end ({', '.join(diff)} differ)")
        return meta
