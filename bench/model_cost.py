"""CPU time per 30 ms step of the detector graph alone, for each network shape (issue 10).

    python -m bench.model_cost

Exports each shape with random weights (the cost does not depend on them) and times
``ModelStream.push`` of one step's frames through onnxruntime on one thread, the way the
daemon calls it; best of five runs of 2000 steps.  Needs the train extra (torch, to export).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

SHAPES = {"conv + 2 GRU": {}, "conv + 3 blocks + 2 GRU": {"tcn_dilations": [1, 2, 4]},
          "conv + 3 blocks + 1 GRU": {"tcn_dilations": [1, 2, 4], "gru_layers": 1}}


def main() -> None:
    from kws.frontend import FrontendParams
    from kws.model.detector import KeywordModel
    from kws.train.export import export_onnx, write_sidecar
    from kws.train.model import KeywordNet, NetParams

    folder = Path(tempfile.mkdtemp())
    print("| network | parameters | µs per 30 ms step |\n|---|---|---|")
    for i, (name, kw) in enumerate(SHAPES.items()):
        net = KeywordNet(NetParams(**kw)).eval()
        path = folder / f"m{i}.onnx"
        export_onnx(net, path)
        write_sidecar(path, "x", FrontendParams(), net.p.stride, 0.5, 3, 1.5, {}, net.state_names())
        stream = KeywordModel(path).stream()
        frames = np.random.default_rng(0).normal(-4, 3, (net.p.stride, net.p.n_mels)).astype(np.float32)
        for _ in range(200):
            stream.push(frames)
        best = float("inf")
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(2000):
                stream.push(frames)
            best = min(best, (time.process_time() - t0) / 2000)
        print(f"| {name} | {sum(p.numel() for p in net.parameters())} | {1e6 * best:.1f} |")


if __name__ == "__main__":
    main()
