"""``kws listen --meter``: a live terminal view of input level and each keyword's probability.

Lets a user place the microphone (is the level sensible?) and pick a threshold (how high
does the probability go when I say the word, and at rest?).
"""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.table import Table


def _bar(value: float, width: int = 30, mark: float | None = None) -> str:
    filled = int(round(max(0.0, min(1.0, value)) * width))
    cells = ["█" if i < filled else "·" for i in range(width)]
    if mark is not None:
        cells[min(width - 1, int(mark * width))] = "|"
    return "".join(cells)


class Meter:
    """``console``: built by the caller before audio starts (see kws.cli.main._meter_factory)."""

    def __init__(self, service, console: Console | None = None):
        self.service = service
        self._live = Live(console=console or Console(stderr=True), refresh_per_second=10, transient=True)

    def start(self):
        self._live.start()

    def stop(self):
        self._live.stop()

    def render(self) -> Table:
        s = self.service
        spotter = s.listener.spotter
        t = Table(title="kws listen --meter (Ctrl-C to quit)", show_edge=False)
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_column("", no_wrap=True)
        level = s.last_level_db
        t.add_row("input level", f"{level:6.1f} dBFS", _bar((level + 80) / 80))
        for model, trig in zip(spotter.models, spotter.triggers):
            p = spotter.last_probability.get(model.keyword, 0.0)
            peak = spotter.peak_probability.get(model.keyword, 0.0)
            style = "bold green" if p >= trig.params.threshold else ""
            t.add_row(f"[{style}]{model.keyword}[/]" if style else model.keyword,
                      f"{p:.3f} (peak {peak:.2f}, thr {trig.params.threshold:.2f})",
                      _bar(p, mark=trig.params.threshold))
        t.add_row("detections", str(sum(s.metrics.detections.values())), f"overruns {s.metrics.overruns}")
        return t

    def update(self):
        self._live.update(self.render())
