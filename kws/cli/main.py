"""The ``kws`` command: listen, detect, scores, devices, train.

Every user-caused failure is a KwsError, printed as one line (``kws: error: …``) with
exit code 2; a traceback is never the only thing a user sees.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import shlex
import sys

import click

from kws import __version__
from kws.errors import KwsError

log = logging.getLogger("kws")


def fail_cleanly(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KwsError as exc:
            click.echo(f"kws: error: {exc}", err=True)
            sys.exit(2)
    return wrapper


def setup_logging(level: str) -> None:
    from kws.daemon.logs import configure
    configure(level)


def load_cfg(config_path, threshold=None, **overrides):
    from kws.config import load_config
    return load_config(config_path, overrides, threshold=threshold)


model_option = click.option("-m", "--model", "models", multiple=True, metavar="NAME|PATH",
                            help="Shipped model name or .onnx path (repeat for several keywords).")
threshold_option = click.option("-t", "--threshold", type=click.FloatRange(0, 1), default=None,
                                help="Override the sidecar's threshold.")
config_option = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="YAML config (see configs/default.yaml).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kws")
def cli():
    """kws: an offline streaming wake-word engine."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@model_option
@threshold_option
@config_option
@fail_cleanly
def detect(files, models, threshold, config_path):
    """Detect keywords in audio files: one JSON line per detection.

    Bad files are reported on stderr (one line each) and the rest are still processed;
    the exit code is 2 if any file failed.
    """
    from kws.audio.files import read_audio
    from kws.filemode import run_audio
    from kws.pipeline import spotter_from_config

    cfg = load_cfg(config_path)
    spotter = spotter_from_config(cfg, models, threshold)
    failed = 0
    for path in files:
        try:
            audio = read_audio(path, spotter.sample_rate, warn=lambda m: click.echo(f"kws: note: {m}", err=True))
        except KwsError as exc:
            click.echo(f"kws: error: {exc}", err=True)
            failed += 1
            continue
        with _progress(path, len(audio)) as advance:
            detections, _ = run_audio(spotter, audio, on_progress=advance)
        for d in detections:
            click.echo(json.dumps({"file": str(path), **d.to_dict()}))
    if failed:
        sys.exit(2)


class _progress:
    """A rich progress bar on stderr for long files, only when stderr is a terminal."""

    def __init__(self, name, n_samples):
        self.name, self.n, self.bar = name, n_samples, None

    def __enter__(self):
        if not sys.stderr.isatty() or self.n < 60 * 16000:
            return None
        from rich.console import Console
        from rich.progress import Progress
        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task(str(self.name), total=self.n)
        return lambda k: self.bar.advance(task, k)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-m", "--model", default=None, metavar="NAME|PATH", help="Model (default: the config's first).")
@config_option
@fail_cleanly
def scores(file, model, config_path):
    """Per-step keyword probability of FILE as CSV (time_s,probability)."""
    from kws.audio.files import read_audio
    from kws.filemode import run_audio, step_times
    from kws.pipeline import spotter_from_config

    cfg = load_cfg(config_path)
    spotter = spotter_from_config(cfg, [model] if model else [cfg.model_entries()[0].path])
    audio = read_audio(file, spotter.sample_rate, warn=lambda m: click.echo(f"kws: note: {m}", err=True))
    _, (probs,) = run_audio(spotter, audio)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["time_s", "probability"])
    for t, p in zip(step_times(spotter, 0, len(probs)), probs):
        writer.writerow([f"{t:.3f}", f"{p:.5f}"])


@cli.command()
@fail_cleanly
def devices():
    """List audio input devices (index, name, channels, default rate)."""
    from kws.audio.capture import input_devices

    for d in input_devices():
        click.echo(f"{d['index']:3d}  {d['name']}  ({d['max_input_channels']} ch, {d['default_samplerate']:.0f} Hz)")


@cli.command()
@model_option
@threshold_option
@config_option
@click.option("-d", "--device", default=None, help="Input device: index or part of its name.")
@click.option("--meter", is_flag=True, help="Live display of input level and each keyword's probability.")
@click.option("--chime/--no-chime", default=None, help="Play a chime on detection.")
@click.option("--json/--no-json", "json_lines", default=None, help="Print a JSON line per detection.")
@click.option("--command", "command", default=None, help="Command to run on detection (split like a shell, "
              "but never run through one).")
@click.option("--callback", default=None, metavar="MODULE:FUNC", help="Python function to call with the detection.")
@click.option("--save-detections", type=click.Path(file_okay=False), default=None,
              help="Save ~2 s of audio around each detection into this folder.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics on 127.0.0.1:PORT.")
@click.option("--log-level", default=None, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                                              case_sensitive=False))
@fail_cleanly
def listen(models, threshold, config_path, device, meter, chime, json_lines, command, callback,
           save_detections, metrics_port, log_level):
    """Listen on the microphone and act on each detection (runs until stopped)."""
    from kws.daemon.service import Service

    overrides = {"audio.device": device, "actions.chime": chime, "actions.json": json_lines,
                 "actions.command": shlex.split(command) if command else None, "actions.callback": callback,
                 "save_detections": save_detections, "metrics_port": metrics_port, "log_level": log_level}
    if models:
        overrides["models"] = list(models)
    cfg = load_cfg(config_path, threshold=threshold, **overrides)
    setup_logging(cfg.log_level)
    meter_view = _meter_factory() if meter else None
    Service(cfg, config_path=config_path, overrides=overrides, threshold=threshold, meter=meter_view).run()


def _meter_factory():
    """The --meter view, its terminal decided now: before any audio code runs, because PortAudio
    briefly points fd 2 at /dev/null while it starts, and a rich Console built in that moment
    takes the terminal for a file and never draws."""
    from rich.console import Console

    from kws.cli.meter import Meter

    console = Console(stderr=True)
    if not console.is_terminal:
        log.warning("--meter: stderr is not a terminal; the meter is not shown")
    return functools.partial(Meter, console=console)


@cli.command("install-service")
@click.option("--no-start", is_flag=True, help="Write the files but do not enable/start the service.")
@click.option("--unit-dir", default="/etc/systemd/system", type=click.Path(file_okay=False))
@click.option("--config-dir", default="/etc/kws", type=click.Path(file_okay=False))
@fail_cleanly
def install_service(no_start, unit_dir, config_dir):
    """Install the systemd unit (systemd/kws.service) and /etc/kws/kws.yaml; needs root."""
    from pathlib import Path

    from kws.daemon.install import install

    try:
        for line in install(Path(unit_dir), Path(config_dir), start=not no_start):
            click.echo(line)
    except PermissionError as exc:
        raise KwsError(f"{exc.filename}: permission denied (run with sudo)") from None


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--word", default=None, help="Train from text alone: the phrase to synthesise.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output .onnx path.")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Data folder (../shared/data).")
@fail_cleanly
def train(config, word, out, data_root):
    """Train a detector: kws train configs/train-alexa.yaml, or kws train --word "hey computer"."""
    try:
        from kws.train.cli import train_command
    except ImportError as exc:
        raise KwsError(f"training needs the train extra: pip install -e '.[train]' ({exc})") from None
    train_command(config, word=word, out=out, data_root=data_root, argv=sys.argv)


def main():
    cli(prog_name="kws")


if __name__ == "__main__":
    main()
