"""Average several heads into one head graph (issue 20: "averaging the probabilities of the seeds'
models").  The result takes the same 'embeddings' and gives the mean of the heads' 'probabilities',
so the runtime, the sidecar and `--rescore` treat it as any other head: no runtime code knows it
is an ensemble.  A head costs little beside the embedding it reads (the embedding is computed once
and shared), so averaging N heads multiplies only the head's share of the second stage's CPU.

    python -m kws.train.head.ensemble OUT.head.onnx A.head.onnx B.head.onnx [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.embedding.head import INPUT, OUTPUT
from kws.errors import KwsError


def average_heads(paths: list[Path], out: Path) -> Path:
    """Write one ONNX graph whose output is the element-wise mean of the heads' outputs."""
    import onnx
    from onnx import compose, helper

    if len(paths) < 2:
        raise KwsError(f"an ensemble needs two heads or more, got {len(paths)}")
    models = [onnx.load(str(p)) for p in paths]
    for p, m in zip(paths, models):
        if [i.name for i in m.graph.input] != [INPUT] or [o.name for o in m.graph.output] != [OUTPUT]:
            raise KwsError(f"{p}: not a head ('{INPUT}' -> '{OUTPUT}')")
    opset = max(o.version for m in models for o in m.opset_import if o.domain in ("", "ai.onnx"))
    nodes, inits, outs = [], [], []
    for k, m in enumerate(models):
        # Prefix every name but the shared input, so the heads' weights and tensors stay apart.
        m = compose.add_prefix(m, f"h{k}_", rename_inputs=False, rename_outputs=True)
        nodes += list(m.graph.node)
        inits += list(m.graph.initializer)
        outs.append(f"h{k}_{OUTPUT}")
    nodes.append(helper.make_node("Mean", outs, [OUTPUT], name="mean_of_heads"))
    graph = helper.make_graph(nodes, "head_ensemble", [models[0].graph.input[0]], [models[0].graph.output[0]],
                              initializer=inits)
    merged = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                               producer_name="kws.train.head.ensemble")
    merged.ir_version = models[0].ir_version
    merged.doc_string = "mean of: " + ", ".join(Path(p).name for p in paths)
    onnx.checker.check_model(merged)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(out))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kws.train.head.ensemble", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the averaged head to write (e.g. runs/X/WORD.head.onnx)")
    ap.add_argument("heads", nargs="+", type=Path, help="the heads to average")
    args = ap.parse_args(argv)
    try:
        for p in args.heads:
            if not p.is_file():
                raise KwsError(f"{p}: no such head")
        print(f"wrote {average_heads(args.heads, args.out)} (mean of {len(args.heads)} heads)")
    except KwsError as e:
        raise SystemExit(f"error: {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
