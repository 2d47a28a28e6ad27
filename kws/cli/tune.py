"""``kws tune``: the command's flow (collect, sweep, show, plot, write); the numbers are in kws.tune."""

from __future__ import annotations

import sys
from pathlib import Path

import soundfile as sf
from rich.console import Console

from kws.errors import KwsError, install_hint
from kws.eval.splits import AUDIO_EXT
from kws.tune import report
from kws.tune.configfile import write_thresholds
from kws.tune.tune import file_probs, folder_files, microphone_probs, saved_clip_scores, tune


DEFAULT_PLOT = "kws-tune.png"  # drawn when --plot is not given and matplotlib is installed


def _seconds(files) -> float:
    total = 0.0
    for f in files:
        try:
            total += sf.info(str(f)).duration
        except (sf.LibsndfileError, RuntimeError):
            pass  # reported when the file is read
    return total


def run_tune(spotter, refs, *, background, minutes, positives, false_alarms, target_fa, plot_path, csv_path,
             write_config, block_ms, progress, note) -> None:
    # stdout: the tables, so they can be saved or piped (then wide enough for whole file names)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if false_alarms is not None:
        report.print_clip_scores(console, saved_clip_scores(spotter, false_alarms, note))
    if background is None:
        return
    if Path(background).is_dir() or looks_like_a_path(background):
        files = background_files(background)
        with progress("background", int(_seconds(files) * spotter.sample_rate)) as advance:
            bg = file_probs(spotter, files, note, advance)
    else:
        print(f"kws: recording {minutes:g} min from microphone {background!r} (Ctrl-C ends early)", file=sys.stderr)
        with progress("recording", int(minutes * 60 * spotter.sample_rate)) as advance:
            bg = microphone_probs(spotter, background, minutes, block_ms, advance)
    pos = None
    if positives is not None:
        files = folder_files(positives, "--positives")
        with progress("positives", int(_seconds(files) * spotter.sample_rate)) as advance:
            pos = file_probs(spotter, files, note, advance)
    n_pos = len(pos.names) if pos else 0
    tunings = tune(spotter, bg, pos, target_fa)
    report.print_tuning(console, tunings, bg.seconds, n_pos, target_fa)
    if csv_path:
        report.write_csv(csv_path, tunings)
    if write_config:  # before the plot: a plot that cannot be drawn must not cost the config
        chosen = {ref: t.suggested for ref, t in zip(refs, tunings) if t.suggested is not None}
        # A cascade's suggestion holds for the detector threshold it was swept at: write both.
        firsts = {ref: m.second_stage.first_threshold for ref, m in zip(refs, spotter.models)
                  if ref in chosen and m.stage == "cascade"}
        if not chosen:
            note("nothing written: no model has a suggested threshold")
        else:
            backup = write_thresholds(write_config, chosen, firsts)
            console.print(f"wrote {', '.join(f'{t.keyword}={t.suggested:.4f}' for t in tunings if t.suggested is not None)}"
                          f" into {write_config}" + (f" (previous version: {backup})" if backup else ""))
    if plot_path is None:  # not asked for: the default plot, when matplotlib is there to draw it
        if not report.can_plot():
            note(f"no plot drawn: it needs matplotlib ({install_hint('tune')})")
            return
        plot_path = DEFAULT_PLOT
    if plot_path:
        report.plot(plot_path, tunings, target_fa, bg.seconds, n_pos)
        console.print(f"plot: {plot_path}")


def looks_like_a_path(background: str) -> bool:
    """A --background that names a file or folder, not a microphone: it exists, has a folder
    separator or an audio file's suffix, or starts like a path (``.``, ``~``)."""
    return (Path(background).exists() or "/" in background or background.startswith(("~", "."))
            or Path(background).suffix.lower() in AUDIO_EXT)


def background_files(background: str) -> list[Path]:
    """The audio files of a --background folder, or the one file it names."""
    path = Path(background).expanduser()
    if path.is_dir():
        return folder_files(path, "--background")
    if path.is_file():
        if path.suffix.lower() not in AUDIO_EXT:
            raise KwsError(f"--background {background}: not a folder or a {', '.join(AUDIO_EXT)} file")
        return [path]
    raise KwsError(f"--background {background}: no such folder or file (a microphone is named by its index, "
                   f"part of its name, or 'default'; see kws devices)")
