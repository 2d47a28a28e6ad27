"""ONNX export with the recurrent state as explicit graph inputs and outputs, plus sidecar."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from kws.frontend import FrontendParams
from kws.model.sidecar import ModelMeta, sha256_of
from kws.train.model import KeywordNet

OPSET = 17


def export_onnx(model: KeywordNet, path: Path) -> None:
    model = model.eval()
    p = model.p
    feats = torch.zeros(1, 10 * p.stride, p.n_mels)
    conv_state, gru_state = model.initial_state(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about GRU batch sizes
        torch.onnx.export(
            model, (feats, conv_state, gru_state), str(path),
            input_names=["features", "conv_state", "gru_state"],
            output_names=["probabilities", "conv_state_out", "gru_state_out"],
            dynamic_axes={"features": {1: "frames"}, "probabilities": {1: "steps"}},
            opset_version=OPSET, dynamo=False)


def write_sidecar(onnx_path: Path, keyword: str, fe: FrontendParams, stride: int, threshold: float,
                  consecutive: int, refractory_s: float, training: dict) -> ModelMeta:
    meta = ModelMeta(keyword=keyword, onnx_sha256=sha256_of(onnx_path), frontend=fe.to_dict(),
                     frames_per_step=stride, threshold=round(float(threshold), 4), consecutive=consecutive,
                     refractory_s=refractory_s, training=training)
    meta.write(onnx_path)
    return meta
