"""Shared fixtures.  Audio comes from ../shared/data (never copied into the repo);
set KWS_DATA_ROOT to point elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KWS_DATA_ROOT", REPO.parent / "shared" / "data"))
SR = 16000


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA / "keywords").is_dir():
        pytest.fail(f"test data not found at {DATA}; set KWS_DATA_ROOT")
    return DATA


def read(path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32")
    assert sr == SR
    return np.clip(audio, -1, 1)


@pytest.fixture(scope="session")
def alexa_test_clips(data_root):
    """Real alexa recordings from the test split (the last 15 % by file number)."""
    from kws.train.data import audio_files, split_contiguous

    files = split_contiguous(audio_files(data_root / "keywords" / "alexa"), 0.15, 0.15)["test"]
    return [read(f) for f in files[:12]]


@pytest.fixture(scope="session")
def background_speech(data_root):
    """Two minutes of real background speech from a test-split chunk."""
    return read(data_root / "background" / "speech" / "asterisk_en_005.ogg")[: 120 * SR] * 0.5


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
