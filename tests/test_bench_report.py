"""bench/report.py rebuilds RESULTS.md from the runs' JSON and keeps the hand-written notes."""

from __future__ import annotations

import json

from tests.conftest import REPO


def test_rebuilding_results_keeps_the_notes_after_their_sections(tmp_path, monkeypatch):
    from bench import report

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "latency.md").write_text("The kws row is the cascade as it ships.\n")
    (tmp_path / "notes" / "aarch64.md").write_text("## aarch64 under qemu\n\nRun once by hand.\n")
    latency = json.loads((REPO / "bench" / "results" / "latency.json").read_text())
    (tmp_path / "latency.json").write_text(json.dumps(latency))
    monkeypatch.setattr(report, "R", tmp_path)
    text = report.build()
    table_end = text.index("| kws (ours) |")
    assert text.index("The kws row is the cascade as it ships.") > table_end
    assert text.rstrip().endswith("Run once by hand.")


def test_the_committed_results_are_what_the_report_builds():
    from bench import report

    assert report.build() == (REPO / "bench" / "RESULTS.md").read_text()
