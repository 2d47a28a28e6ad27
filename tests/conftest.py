"""Shared fixtures.

The core tests use the small real clips committed in tests/data (SOURCES.md there).  Tests
that need the full data folder (../shared/data, or KWS_DATA_ROOT) take the ``data_root``
fixture: they carry the ``needs_data`` marker and are skipped, with the reason, when the
folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KWS_DATA_ROOT", REPO.parent / "shared" / "data"))
TEST_DATA = REPO / "tests" / "data"
SR = 16000


def _portaudio_missing() -> bool:
    import ctypes.util
    return ctypes.util.find_library("portaudio") is None


# Tests that open PortAudio (through sounddevice); in CI a missing library is a failure, not a skip.
needs_portaudio = pytest.mark.skipif(_portaudio_missing() and not os.environ.get("CI"),
                                     reason="libportaudio2 not installed (.ci/run installs it)")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_data: reads ../shared/data (KWS_DATA_ROOT); skipped when absent")


def pytest_collection_modifyitems(items):
    # Every test that asks for the data folder is marked, so `-m "not needs_data"` selects the rest.
    for item in items:
        if "data_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_data)


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA / "keywords").is_dir():
        pytest.skip(f"needs the data folder, not found at {DATA} (set KWS_DATA_ROOT)")
    return DATA


def read(path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32")
    assert sr == SR
    return np.clip(audio, -1, 1)


@pytest.fixture(scope="session")
def alexa_test_clips():
    """12 real alexa recordings from the test split (pv-188 … pv-199, committed in tests/data)."""
    return [read(f) for f in sorted((TEST_DATA / "alexa").glob("pv-*.flac"))]


@pytest.fixture(scope="session")
def background_speech():
    """70 s of real background speech from a test-split chunk (committed in tests/data)."""
    return read(TEST_DATA / "background" / "asterisk_en_005_70s.ogg") * 0.5


@pytest.fixture(scope="session")
def room_noise():
    """20 s of real room background (committed in tests/data)."""
    return read(TEST_DATA / "background" / "precise_bgnoise_20s.ogg")


@pytest.fixture(scope="session")
def shipped_model():
    from kws.model import KeywordModel

    return KeywordModel("alexa")


def embed(clips, background, gap_s=3.0):
    """Clips laid into background with gaps; returns audio and each clip's (start, end) s."""
    out, spans, t = [], [], 0
    bg_pos = 0
    for c in clips:
        gap = background[bg_pos:bg_pos + int(gap_s * SR)]
        bg_pos += len(gap)
        out += [gap, c]
        spans.append(((t + len(gap)) / SR, (t + len(gap) + len(c)) / SR))
        t += len(gap) + len(c)
    out.append(background[bg_pos:bg_pos + int(gap_s * SR)])
    return np.concatenate(out).astype(np.float32), spans


def copy_model(folder, name="m", **sidecar) -> Path:
    """The shipped alexa as ``folder/name.onnx`` + sidecar (keys overridden by ``sidecar``), with
    its speech-embedding head beside it: tests that damage or edit a model work on this copy."""
    import json
    import shutil

    from kws.model.detector import shipped_models_dir

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(shipped_models_dir() / "alexa.onnx", folder / f"{name}.onnx")
    meta = json.loads((shipped_models_dir() / "alexa.json").read_text())
    meta.update(sidecar)
    head = meta.get("second_stage", {}).get("head")
    if head:
        shutil.copy(shipped_models_dir() / head, folder / head)
    (folder / f"{name}.json").write_text(json.dumps(meta))
    return folder / f"{name}.onnx"
