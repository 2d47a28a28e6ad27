"""ONNX export with the recurrent state as explicit graph inputs and outputs, plus sidecar."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch

from kws.frontend import FrontendParams
from kws.model.sidecar import ModelMeta, sha256_of
from kws.train.model import KeywordNet

OPSET = 17


def export_onnx(model: KeywordNet, path: Path) -> None:
    model = copy.deepcopy(model).eval()
    # Temporal blocks as one dense conv each: the same outputs, fewer ops per call.
    model.tcn = torch.nn.ModuleList(block.fused() for block in model.tcn)
    p = model.p
    feats = torch.zeros(1, 10 * p.stride, p.n_mels)
    state = model.initial_state(1)
    names = model.state_names()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about GRU batch sizes
        torch.onnx.export(
            model, (feats, *state), str(path),
            input_names=["features", *names],
            output_names=["probabilities", *state_outputs(names).values()],
            dynamic_axes={"features": {1: "frames"}, "probabilities": {1: "steps"}},
            opset_version=OPSET, dynamo=False)


def state_outputs(names: list[str]) -> dict[str, str]:
    """Each state input's matching output: the sidecar's ``state`` map."""
    return {n: f"{n}_out" for n in names}


def write_sidecar(onnx_path: Path, keyword: str, fe: FrontendParams, stride: int, threshold: float,
                  consecutive: int, refractory_s: float, training: dict, state: list[str]) -> ModelMeta:
    meta = ModelMeta(keyword=keyword, onnx_sha256=sha256_of(onnx_path), frontend=fe.to_dict(),
                     state=state_outputs(state),
                     frames_per_step=stride, threshold=round(float(threshold), 4), consecutive=consecutive,
                     refractory_s=refractory_s, training=training)
    meta.write(onnx_path)
    return meta
