"""``kws eval``: a model (or several) and the peers on the development benchmark of a word."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kws.cli import fail_cleanly
from kws.trigger.trigger import MODES


def parse_trigger(spec: str) -> dict:
    """``consecutive=2`` or ``mode=mean,window=5`` -> keyword arguments for the trigger."""
    out = {}
    for part in filter(None, spec.split(",")):
        key, _, value = part.partition("=")
        if key not in ("consecutive", "mode", "window") or not value or (key == "mode" and value not in MODES):
            raise click.BadParameter(f"{part!r}: expected consecutive=N, mode=consecutive|mean or window=N",
                                     param_hint="--trigger")
        try:
            out[key] = value if key == "mode" else int(value)
        except ValueError:
            raise click.BadParameter(f"{part!r}: {key} must be a whole number", param_hint="--trigger") from None
    return out


@click.command("eval")
@click.option("-w", "--word", default="alexa", show_default=True, help="Keyword folder in the data root.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True,
              help="dev: pick models and thresholds; test: report (never tune on it).")
@click.option("-m", "--model", "models", multiple=True, metavar="NAME|PATH",
              help="Our model(s) to score (repeat to compare; default: the shipped model of the word).")
@click.option("--engines", default="kws", show_default=True,
              help="Comma-separated: kws, openwakeword, microwakeword, porcupine.")
@click.option("--snr", "snrs", multiple=True, type=float, help="SNRs of the word-alone streams (default 20, 10, 0).")
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT", show_default=True)
@click.option("--trigger", "triggers", multiple=True, metavar="SPEC",
              help="Our trigger instead of the sidecar's, e.g. consecutive=2 or mode=mean,window=5 (repeat to compare).")
@click.option("--stage", "stages", multiple=True, type=click.Choice(["gru", "head", "cascade"]),
              help="Run our model(s) at this stage (repeat to compare; default: the sidecar's).")
@click.option("--with-train-recordings", is_flag=True,
              help="With --split dev: the word's train-split recordings said alone are trials too, as in the "
                   "dev benchmark of a word trained from text alone (which never heard them).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the results as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the DET curves as PNG.")
@fail_cleanly
def eval_command(word, split, models, engines, snrs, data_root, triggers, stages, with_train_recordings, out, plot):
    """Miss rate at 0.1/0.5/1 false alarms per hour on the benchmark streams of WORD.

    Example: kws eval --word alexa --split test --engines kws,microwakeword -m models/alexa.onnx
    """
    from kws.eval.benchmark import DEFAULT_SNRS, miss_breakdown, plot_results, run, table

    if with_train_recordings and split != "dev":
        raise click.UsageError("--with-train-recordings is for --split dev (the test split is never widened)")
    results = run(data_root, word, split, [e.strip() for e in engines.split(",") if e.strip()], models,
                  tuple(snrs) or DEFAULT_SNRS, log=lambda m: click.echo(m, err=True),
                  triggers=[parse_trigger(t) for t in triggers] or [{}], stages=stages or (None,),
                  more_clip_splits=("train",) if with_train_recordings else ())
    if not results["engines"]:
        raise click.ClickException("no engine could be scored: " + "; ".join(
            f"{k}: {v}" for k, v in results["unavailable"].items()))
    info = results["benchmark"]
    click.echo(f"{word} ({split}): {info['hours']:.2f} h of audio, one false alarm = {1 / info['hours']:.2f}/h")
    for line in table(results):
        click.echo(line)
    for name, row in results["engines"].items():
        line = miss_breakdown(row, info)
        if line:
            click.echo(f"{name}: {line}")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=1))
    if plot:
        plot_results(results, Path(plot))
