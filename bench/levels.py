"""Speech level of each recording of a word, per split: how many are quiet.

    python -m bench.levels --word alexa [--below -28]

The benchmark streams set their noise and the speech between keywords from the median level
of a split's recordings (kws/eval/streams.py), so a quietly recorded talker is at a lower SNR
than the stream's name says.  This counts those recordings per split and lists the quiet ones
with their index in the split, the index that ``kws eval --out``'s
``missed_by_stream_at_threshold`` uses.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from kws.eval.splits import load_split_clips
from kws.eval.streams import speech_bounds


def speech_dbfs(audio: np.ndarray) -> float:
    """RMS level (dBFS) of the spoken word, between ``speech_bounds``."""
    a, b = speech_bounds(audio)
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio[a:b], dtype=np.float64))) + 1e-9))


@click.command()
@click.option("--word", default="alexa", show_default=True)
@click.option("--below", default=-28.0, show_default=True, help="dBFS under which a recording counts as quiet.")
@click.option("--data-root", default="../shared/data", envvar="KWS_DATA_ROOT", show_default=True)
def main(word, below, data_root):
    # the benchmark's own split and reading (kws/eval/benchmark.py), so the indices are its clips'
    for split, clips in load_split_clips(Path(data_root) / "keywords" / word, 0.15, 0.15).items():
        levels = [speech_dbfs(audio) for _, audio in clips]
        quiet = [f"{i} {f.name} {lv:.1f}" for i, ((f, _), lv) in enumerate(zip(clips, levels)) if lv < below]
        click.echo(f"{split}: {len(clips)} recordings, median {np.median(levels):.1f} dBFS, "
                   f"{len(quiet)} below {below:g} dBFS" + (": " + ", ".join(quiet) if quiet else ""))


if __name__ == "__main__":
    main()
