"""One line per head run of experiments/scripts/kokoro_share.sh: each stage's dev mean miss over
0.1-2 FA/h (miss at 0.5 FA/h), best cascade, and the stage the run chose.

    python experiments/scripts/head_table.py runs/kshare/onword-s0.9-*-nosyn
"""

import json
import sys
from pathlib import Path


def pct(x) -> str:
    return f"{100 * x:.1f}"


def line(folder: Path) -> str:
    s = json.loads((folder / "head-summary.json").read_text())
    rows = s["stages"]
    best = {}
    for r in rows:
        if r["stage"] not in best or r["mean_miss"] < best[r["stage"]]["mean_miss"]:
            best[r["stage"]] = r
    cells = []
    for stage in ("gru", "head", "cascade"):
        r = best.get(stage)
        extra = f" [{r['first_threshold']:g}, {r['rule']}]" if r and stage == "cascade" else ""
        cells.append(f"{pct(r['mean_miss'])} ({pct(r['miss']['0.5'])}){extra}" if r else "-")
    c = s["chosen"]
    chosen = c["stage"] + (f" {c['first_threshold']:g}/{c['rule']}" if c["stage"] == "cascade" else "")
    return f"| {folder.name} | " + " | ".join(cells) + f" | {chosen} | {s.get('minutes', '-')} |"


if __name__ == "__main__":
    print("| run | detector | head | best cascade | chosen | minutes |\n|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        if (Path(arg) / "head-summary.json").is_file():
            print(line(Path(arg)))
