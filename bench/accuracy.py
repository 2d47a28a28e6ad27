"""Miss rate against false alarms per hour on the test benchmark, every engine on the same streams.

    python -m bench.accuracy                          # alexa with every peer that installs, + our other words
    python -m bench.accuracy --words alexa --engines kws
    python -m bench.accuracy --words voyager --update   # add or redo one word, keep the others

A thin driver over kws.eval.benchmark (the same code as ``kws eval --split test``):
for each word, the test streams are built once and read by every engine.  Writes
bench/results/accuracy.json and bench/det-<word>.png; bench/report.py folds them into
bench/RESULTS.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from kws.eval.benchmark import plot_results, run
from kws.eval.engines import ENGINES

HERE = Path(__file__).resolve().parent
WORDS = ("alexa", "think_engine", "onword", "voyager")


@click.command()
@click.option("--words", default=",".join(WORDS), show_default=True)
@click.option("--engines", default=",".join(ENGINES), help="Comma-separated: " + ", ".join(ENGINES))
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT")
@click.option("--out", default=str(HERE / "results" / "accuracy.json"), type=click.Path(dir_okay=False))
@click.option("--update", is_flag=True, help="Keep the other words already in --out (each word is one run).")
def main(words, engines, data_root, out, update):
    results = {"words": {}}
    if update and Path(out).is_file():
        results = json.loads(Path(out).read_text())
    for word in words.split(","):
        res = run(data_root, word, "test", engines.split(","), log=lambda m: click.echo(m, err=True))
        results["words"][word] = res
        if res["engines"]:
            plot_results(res, HERE / f"det-{word}.png")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
