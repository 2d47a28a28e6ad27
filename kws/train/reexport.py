"""Export a trained model's weights again, after a change to the exported graph only.

    python -m kws.train.reexport runs/r8/checkpoint.pt models/alexa.onnx

or, with ``--best-epoch CONFIG OUT.onnx``, export the single best epoch of a run that shipped
the mean of its best epochs (fit.average_best), scored on CONFIG's dev benchmark for its
sidecar threshold, as training would have written it:

    python -m kws.train.reexport runs/r12/checkpoint.pt experiments/models/alexa-r12-average5.onnx \
        --best-epoch runs/r12/config.yaml experiments/models/alexa-r12-epoch9.onnx

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


def export_best_epoch(checkpoint: Path, like: Path, config: Path, out: Path, log=print) -> dict:
    """The best single epoch of ``checkpoint`` (a run whose model ``like`` is an average) as ``out``,
    with the sidecar threshold and dev numbers from the config's dev benchmark."""
    from kws.train.config import load_train_config
    from kws.train.evaluate import dev_streams, evaluate

    cfg = load_train_config(config)
    sidecar = json.loads(like.with_suffix(".json").read_text())
    net = KeywordNet(NetParams(**sidecar["training"]["net"]))
    state = torch.load(checkpoint, weights_only=False)["state"]
    net.load_state_dict(state["best_model"])
    net.eval()
    export_onnx(net, out)
    training = {k: v for k, v in sidecar["training"].items() if k not in ("averaged_epochs", "dev")}
    training.update(best_epoch=state["best_epoch"] + 1,
                    exported=f"best single epoch of {checkpoint} (python -m kws.train.reexport --best-epoch)")
    new_sidecar = {**sidecar, "onnx_sha256": sha256_of(out), "training": training}

    def write():
        out.with_suffix(".json").write_text(json.dumps(new_sidecar, indent=2) + "\n")

    write()  # the runtime needs a sidecar to score the model on the dev streams
    metrics = evaluate(out, dev_streams(cfg, cfg.data.keyword), cfg.eval.target_fa_per_hour, log=log)
    training["dev"] = {g: v for g, v in metrics["row"].items() if g in ("all", "alone", "sentences")}
    training["dev_hours"] = metrics["row"]["hours"]
    new_sidecar["threshold"] = round(metrics["threshold"], 4)
    write()
    KeywordModel(out)  # the runtime accepts the result
    return metrics


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 5 and args[2] == "--best-epoch":
        m = export_best_epoch(Path(args[0]), Path(args[1]), Path(args[3]), Path(args[4]))
        print(f"wrote {args[4]}: dev miss {100 * m['row']['all']['miss_at_0.5']:.1f}% at 0.5 FA/h, "
              f"threshold {m['threshold']:.4f}")
    elif len(args) == 2:
        print(f"re-exported {args[1]}; largest probability change {reexport(Path(args[0]), Path(args[1])):.2g}")
    else:
        sys.exit("usage: python -m kws.train.reexport CHECKPOINT.pt MODEL.onnx [--best-epoch CONFIG OUT.onnx]")
