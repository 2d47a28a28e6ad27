"""``kws tune --write-config PATH``: put the suggested thresholds into a config, keeping a backup."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import yaml

from kws.config import load_config
from kws.errors import KwsError


def write_thresholds(path: str | Path, thresholds: dict[str, float],
                     first_thresholds: dict[str, float] | None = None) -> Path | None:
    """Set ``models[].threshold`` for each model reference in ``thresholds`` (appending entries
    the file lacks), and ``models[].first_threshold`` for those in ``first_thresholds`` (cascade
    models); every other key is kept.  The old file is copied to ``PATH.bak`` (or
    ``PATH.bak-<time>`` if that exists) first; returns the backup's path (None for a new file).
    YAML comments are not kept in the new file; the backup has them."""
    path = Path(path)
    data, backup = {}, None
    if path.exists():
        load_config(path)  # refuse to rewrite a config that is already invalid
        data = yaml.safe_load(path.read_text()) or {}
        backup = path.with_name(path.name + ".bak")
        if backup.exists():
            backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(path, backup)
    default = ["alexa"] if backup else []  # an existing file without `models` means the default model
    entries = [e if isinstance(e, dict) else {"path": e} for e in data.get("models", default)]
    for ref, threshold in thresholds.items():
        entry = next((e for e in entries if str(e.get("path", "alexa")) == ref), None)
        if entry is None:
            entry = {"path": ref}
            entries.append(entry)
        entry["threshold"] = round(float(threshold), 4)
        if ref in (first_thresholds or {}):
            entry["first_threshold"] = round(float(first_thresholds[ref]), 4)
    data["models"] = entries
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    except OSError as exc:
        raise KwsError(f"--write-config {path}: {exc.strerror or exc}") from None
    load_config(path)  # what was written must load
    return backup
