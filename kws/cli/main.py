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
from kws.cli import fail_cleanly
from kws.errors import KwsError, install_hint

log = logging.getLogger("kws")


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
stage_option = click.option("--stage", type=click.Choice(["gru", "head", "cascade"]), default=None,
                            help="For a model with a speech-embedding head: the detector alone (gru), the head "
                                 "alone, or the cascade (default: the sidecar's choice).")
config_option = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="YAML config (see configs/default.yaml).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kws")
def cli():
    """kws: an offline streaming wake-word engine."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@model_option
@threshold_option
@stage_option
@config_option
@fail_cleanly
def detect(files, models, threshold, stage, config_path):
    """Detect keywords in audio files (`-`: a file piped to stdin): one JSON line per detection.

    Bad files (and folders) are reported on stderr (one line each) and the rest are still
    processed; the exit code is 2 if any file failed.
    """
    from kws.filemode import run_file
    from kws.pipeline import spotter_from_config

    cfg = load_cfg(config_path)
    spotter = spotter_from_config(cfg, models, threshold, stage)
    failed = 0
    for path in files:
        try:
            with _open_audio(path, spotter.sample_rate) as audio, \
                    _progress(path, audio.expected_samples) as advance:
                result = run_file(spotter, audio, on_progress=advance)
        except KwsError as exc:
            click.echo(f"kws: error: {exc}", err=True)
            failed += 1
            continue
        for d in result.detections:
            click.echo(json.dumps({"file": str(path), **d.to_dict()}))
        if result.truncated:  # its detections so far are printed; the file still counts as failed
            click.echo(f"kws: error: {result.truncated}", err=True)
            failed += 1
    if failed:
        sys.exit(2)


def _note(message: str) -> None:
    click.echo(f"kws: note: {message}", err=True)


class _progress:
    """A rich progress bar on stderr for long files, only when stderr is a terminal."""

    def __init__(self, name, n_samples):
        self.name, self.n, self.bar = name, n_samples, None

    def __enter__(self):
        if not sys.stderr.isatty() or not self.n or self.n < 60 * 16000:
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
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--model", default=None, metavar="NAME|PATH", help="Model (default: the config's first).")
@stage_option
@config_option
@fail_cleanly
def scores(files, model, stage, config_path):
    """Per-step keyword probability as CSV: time_s,probability (`-`: a file piped to stdin).

    For a cascade the score of a step is the second stage's (0 where the detector did not ask
    it); `--stage gru` gives the detector's own probabilities.

    With several files each row starts with its file: file,time_s,probability.  Bad files are
    reported on stderr (one line each) and the rest still scored; the exit code is 2 if any failed.
    """
    from kws.filemode import run_file, step_times
    from kws.pipeline import spotter_from_config

    cfg = load_cfg(config_path)
    spotter = spotter_from_config(cfg, [model] if model else [cfg.model_entries()[0].path], stage=stage)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    named = len(files) > 1
    writer.writerow(["file", "time_s", "probability"] if named else ["time_s", "probability"])
    failed = 0
    for path in files:
        try:
            result = run_file(spotter, _open_audio(path, spotter.sample_rate))
        except KwsError as exc:
            click.echo(f"kws: error: {exc}", err=True)
            failed += 1
            continue
        (probs,) = result.probabilities
        times = step_times(spotter, 0, len(probs))
        # The tail padding lets a word at the very end reach the trigger, but steps that end in it
        # are not in the file.
        inside = times <= result.n_samples / spotter.sample_rate + 1e-9
        for t, p in zip(times[inside], probs[inside]):
            writer.writerow([path, f"{t:.3f}", f"{p:.5f}"] if named else [f"{t:.3f}", f"{p:.5f}"])
        if result.truncated:
            click.echo(f"kws: error: {result.truncated}", err=True)
            failed += 1
    if failed:
        sys.exit(2)


def _open_audio(path, sample_rate):
    """An AudioFile for a path, or for a file piped to stdin when the path is `-`."""
    from kws.audio.files import AudioFile
    from kws.audio.pipe import stdin_audio_file

    if path == "-":  # cat x.wav | kws detect -
        return stdin_audio_file(sample_rate, warn=_note)
    return AudioFile(path, sample_rate, warn=_note)


@cli.command()
@fail_cleanly
def devices():
    """List audio input devices (index, name, channels, default rate); * marks the default."""
    from kws.audio.capture import default_input_index, input_devices

    found = input_devices()
    if not found:
        click.echo("no audio input devices found (is a microphone connected, and is the user in the 'audio' "
                   "group?)")
        return
    default = default_input_index()
    for d in found:
        mark = "*" if d["index"] == default else " "
        click.echo(f"{mark}{d['index']:3d}  {d['name']}  ({d['max_input_channels']} ch, "
                   f"{d['default_samplerate']:.0f} Hz)")


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
@click.option("--raw-stdin", is_flag=True, help="Read raw PCM from stdin instead of a microphone; ends at EOF.")
@click.option("--rate", type=click.IntRange(1000, 384000), default=None, help="--raw-stdin sample rate [16000].")
@click.option("--format", "sample_format", default=None,  # checked by kws.audio.pcm, which lists the formats
              help="--raw-stdin sample format: s16le (default), s32le, f32le or u8.")
@click.option("--channels", type=click.IntRange(1, 64), default=None, help="--raw-stdin channel count [1].")
@click.option("--channel", type=click.IntRange(0, 63), default=None,
              help="Use only this channel (0 = first) of a multi-channel microphone or --raw-stdin.")
@fail_cleanly
def listen(models, threshold, config_path, device, meter, chime, json_lines, command, callback,
           save_detections, metrics_port, log_level, raw_stdin, rate, sample_format, channels, channel):
    """Listen on the microphone (or raw PCM on stdin) and act on each detection (runs until stopped)."""
    from kws.daemon.service import Service

    overrides = {"audio.device": device, "actions.chime": chime, "actions.json": json_lines,
                 "actions.command": shlex.split(command) if command else None, "actions.callback": callback,
                 "save_detections": save_detections, "metrics_port": metrics_port, "log_level": log_level}
    if models:
        overrides["models"] = list(models)
    cfg = load_cfg(config_path, threshold=threshold, **overrides)
    setup_logging(cfg.log_level)
    source = _audio_source(cfg, raw_stdin, rate, sample_format, channels, channel)
    meter_view = _meter_factory() if meter else None
    service = Service(cfg, config_path=config_path, overrides=overrides, threshold=threshold, meter=meter_view,
                      source=source)
    if raw_stdin:  # end of the piped audio: let the last actions finish, then stop (exit 0)
        source.on_eof = lambda: (service.runner.drain(cfg.actions.timeout_s), service.listener.stop(),
                                 service.request_stop())
    service.run()


def _audio_source(cfg, raw_stdin, rate, sample_format, channels, channel):
    """The audio source for `kws listen`: None (the service's microphone), a channel of it, or stdin."""
    if raw_stdin:
        from kws.audio.pipe import StdinPcmSource
        return StdinPcmSource(rate or 16000, sample_format or "s16le", channels or 1, channel,
                              block_ms=cfg.audio.block_ms, ring_s=cfg.audio.ring_s)
    if (rate, sample_format, channels) != (None, None, None):
        raise KwsError("--rate, --format and --channels describe --raw-stdin input; add --raw-stdin")
    if channel is None:
        return None
    from kws.audio.capture import MicrophoneSource
    source = MicrophoneSource(cfg.audio.device, block_ms=cfg.audio.block_ms, ring_s=cfg.audio.ring_s, channel=channel)
    source.prepare()  # PortAudio starts on the main thread, before other threads log (see Service)
    return source


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
@click.option("--unit-dir", default="/etc/systemd/system", show_default=True, type=click.Path(file_okay=False))
@click.option("--config-dir", default="/etc/kws", show_default=True, type=click.Path(file_okay=False),
              help="Where kws.yaml is (written if absent); the unit's --config points there.")
@click.option("--force", is_flag=True, help="Write the unit even if the service user cannot read this kws.")
@click.option("--wyoming", is_flag=True, help="Install kws-wyoming.service (`kws serve` for Home Assistant) "
              "instead of kws.service.")
@click.option("--uri", default=None, metavar="URI", help="With --wyoming: where the server listens "
              "[tcp://0.0.0.0:10400].")
@click.option("--allow", multiple=True, metavar="ADDRESS",
              help="With --wyoming: an address or network that may connect besides localhost (your Home "
                   "Assistant, or a LAN such as 192.168.1.0/24); repeatable.")
@fail_cleanly
def install_service(no_start, unit_dir, config_dir, force, wyoming, uri, allow):
    """Install the systemd unit (kws.service, or kws-wyoming.service with --wyoming) and kws.yaml; needs root.

    The unit runs this kws (the one running now, not the first on PATH); an existing unit
    is kept as <unit>.bak-<time>.
    """
    from pathlib import Path

    from kws.daemon.install import install_steps

    try:
        for line in install_steps(Path(unit_dir), Path(config_dir), start=not no_start, force=force,
                                  wyoming=wyoming, uri=uri, allow=list(allow)):
            click.echo(line)
    except PermissionError as exc:
        raise KwsError(f"{exc.filename}: permission denied (run with sudo)") from None


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--word", default=None, help="Train from text alone: the phrase to synthesise.")
@click.option("--say", multiple=True, metavar="TEXT",
              help="How the word is said, if its spelling misleads the synthesisers (repeatable): "
                   "--word onword --say onward.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Output .onnx path.")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Data folder (../shared/data).")
@click.option("--background", multiple=True, metavar="DIR",
              help="With --word: your own folders of speech, music and noise instead of the data folder "
                   "(repeatable; files under a folder called speech count as running speech).")
@click.option("--head", is_flag=True, default=False,
              help="After the detector, train the speech-embedding head: the model becomes a cascade "
                   "(needs the data folder; 7-14 min more on 2 cores, the first time 8 more to build its negative cache).")
@fail_cleanly
def train(config, word, say, out, data_root, background, head):
    """Train a detector: kws train configs/train-alexa.yaml, or kws train --word "hey computer"
    (--background DIR: without the data folder)."""
    try:
        from kws.train.cli import train_command
    except ImportError as exc:
        raise KwsError(f"training needs the train extra ({exc}): {install_hint('train')} "
                       f"(the README says how to get torch's CPU build)") from None
    train_command(config, word=word, out=out, data_root=data_root, argv=sys.argv, say=say, background=background,
                  head=head)


def _configured_spotter(cfg, models=(), threshold=None, first_threshold=None):
    """The one place the commands below build a Spotter from the config (as `kws listen` does)."""
    from kws.pipeline import spotter_from_config

    return spotter_from_config(cfg, models, threshold, first_threshold=first_threshold)


@cli.command()
@click.option("--uri", default="tcp://0.0.0.0:10400", show_default=True,
              help="Where to listen: tcp://HOST:PORT, unix:///path/to/socket or stdio://.")
@model_option
@threshold_option
@config_option
@click.option("--max-clients", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Connections served at once; more are refused with an error event.")
@click.option("--idle-timeout", type=click.FloatRange(0), default=300, show_default=True,
              help="Close a connection that sends nothing for this many seconds (0: never).")
@click.option("--zeroconf", "zeroconf_name", default=None, metavar="NAME",
              help="Announce the server as _wyoming._tcp under NAME (needs: pip install zeroconf).")
@click.option("--log-level", default=None, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                                              case_sensitive=False))
@fail_cleanly
def serve(uri, models, threshold, config_path, max_clients, idle_timeout, zeroconf_name, log_level):
    """Wyoming wake-word server for Home Assistant (same models and trigger as `kws listen`)."""
    try:
        from kws.server.wyoming import serve as serve_wyoming
    except ImportError as exc:
        raise KwsError(f"kws serve needs the wyoming extra: {install_hint('wyoming')} ({exc})") from None
    cfg = load_cfg(config_path, log_level=log_level)
    setup_logging(cfg.log_level)
    serve_wyoming(_configured_spotter(cfg, models, threshold), uri, max_clients=max_clients,
                  zeroconf_name=zeroconf_name, idle_timeout_s=idle_timeout or None)


@cli.command()
@click.option("--background", default=None, metavar="DIR|DEVICE",
              help="Audio of your room without the word: a folder of files (or one file), or a microphone "
                   "(index, part of its name, or 'default') recorded for --minutes.")
@click.option("--minutes", type=click.FloatRange(0.1, 24 * 60), default=10.0, show_default=True,
              help="How long to record when --background is a microphone.")
@click.option("--positives", default=None, type=click.Path(file_okay=False), help="Folder of your recordings of the word.")
@click.option("--false-alarms", "false_alarms", default=None, type=click.Path(file_okay=False),
              help="Folder of clips saved by --save-detections: where each scored, what would reject it.")
@click.option("--target-fa", type=click.FloatRange(0, min_open=True), default=0.5, show_default=True,
              help="False alarms per hour to aim for.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="PNG: false alarms per hour and misses against threshold [kws-tune.png, when matplotlib is "
                   "installed; '' for none].")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Write the whole sweep as CSV.")
@click.option("--write-config", default=None, type=click.Path(dir_okay=False),
              help="Write the suggested thresholds into this config (the old file is kept as PATH.bak).")
@click.option("--first-threshold", type=click.FloatRange(0, 1), default=None,
              help="Cascade models: the detector's threshold for asking the second stage (default: the sidecar's "
                   "or the config's); the sweep then tunes the second stage's, and --write-config writes both.")
@model_option
@config_option
@fail_cleanly
def tune(background, minutes, positives, false_alarms, target_fa, plot_path, csv_path, write_config, first_threshold,
         models, config_path):
    """Pick thresholds on your own room's audio: false alarms per hour and misses against threshold."""
    from kws.cli.tune import run_tune

    if background is None and false_alarms is None:
        raise KwsError("give --background DIR|DEVICE (and optionally --positives DIR), or --false-alarms DIR")
    cfg = load_cfg(config_path)
    refs = list(models) or [e.path for e in cfg.model_entries()]
    spotter = _configured_spotter(cfg, models, first_threshold=first_threshold)
    run_tune(spotter, refs, background=background, minutes=minutes, positives=positives,
             false_alarms=false_alarms, target_fa=target_fa, plot_path=plot_path, csv_path=csv_path,
             write_config=write_config, block_ms=cfg.audio.block_ms, progress=_progress, note=_note)


from kws.cli.evaluate import eval_command  # noqa: E402

cli.add_command(eval_command)


def main():
    cli(prog_name="kws")


if __name__ == "__main__":
    main()
