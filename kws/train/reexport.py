"""Export a trained model's weights again, after a change to the exported graph only.

    python -m kws.train.reexport runs/r8/checkpoint.pt models/alexa.onnx

Takes the shipped weights from a training checkpoint (the best epoch, or the mean of the best
epochs with fit.average_best) and the network shape from the
model's sidecar, writes the ONNX file, keeps every sidecar field but the file hash, and
checks that the new graph gives the old one's probabilities on a real recording (the
shipped sample) before replacing anything.
"""

from __future__ import annotations

import json
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch

from kws.audio.files import read_audio
from kws.errors import KwsError
from kws.eval.engines import KwsEngine
from kws.model.detector import KeywordModel
from kws.model.sidecar import sha256_of
from kws.train.export import export_onnx
from kws.train.fit import final_weights
from kws.train.model import KeywordNet, NetParams


def scores(model_path: Path, audio: np.ndarray) -> np.ndarray:
    return KwsEngine(KeywordModel(model_path)).scores(audio)  # file mode, as kws eval scores


def reexport(checkpoint: Path, onnx_path: Path, tolerance: float = 1e-5) -> float:
    sidecar = json.loads(onnx_path.with_suffix(".json").read_text())
    net = KeywordNet(NetParams(**sidecar["training"]["net"]))
    ck = torch.load(checkpoint, weights_only=False)
    net.load_state_dict(final_weights(ck["state"]))
    audio = read_audio(files("kws") / "samples" / "alexa.flac")
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp) / onnx_path.name
        export_onnx(net, new)
        (new.with_suffix(".json")).write_text(json.dumps({**sidecar, "onnx_sha256": sha256_of(new)}, indent=2) + "\n")
        diff = float(np.max(np.abs(scores(new, audio) - scores(onnx_path, audio))))
        if diff > tolerance:
            raise KwsError(f"{checkpoint} does not hold {onnx_path}'s weights: probabilities differ by {diff:.2g}")
        onnx_path.write_bytes(new.read_bytes())
        onnx_path.with_suffix(".json").write_text(new.with_suffix(".json").read_text())
    return diff


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m kws.train.reexport CHECKPOINT.pt MODEL.onnx")
    print(f"re-exported {sys.argv[2]}; largest probability change {reexport(Path(sys.argv[1]), Path(sys.argv[2])):.2g}")
