"""File mode streams files in blocks: same results as reading the whole file, flat memory."""

import io
import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import soxr
from click.testing import CliRunner

from kws.audio.files import AudioFile, read_audio
from kws.filemode import run_audio, run_file
from kws.spotter import Spotter
from tests.conftest import REPO, SR, embed

SAMPLE = REPO / "kws" / "samples" / "alexa.flac"


def kws(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "kws.cli.main", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def cd_stereo(tmp_path_factory, alexa_test_clips, background_speech):
    """Keywords in speech as a 44.1 kHz stereo file (the channels differ a little)."""
    audio, _ = embed(alexa_test_clips[:4], background_speech)
    left = soxr.resample(audio, SR, 44100)
    stereo = np.stack([left, 0.8 * left + 0.01 * np.roll(left, 7)], axis=1)
    path = tmp_path_factory.mktemp("cd") / "cd.flac"
    sf.write(path, stereo, 44100)
    return path


def whole_file_the_old_way(path):
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return soxr.resample(audio.mean(axis=1), rate, SR, quality="HQ").astype(np.float32)


def test_streamed_resampled_stereo_equals_whole_file(shipped_model, cd_stereo):
    spotter = Spotter([shipped_model])
    old_dets, (old_probs,) = run_audio(spotter, whole_file_the_old_way(cd_stereo))
    # Blocks of 0.37 s: dozens of block edges for the averaging and the streaming resampler.
    streamed = run_file(spotter, AudioFile(cd_stereo, warn=lambda m: None, block_s=0.37))
    assert len(old_dets) >= 3
    assert [d.time_s for d in streamed.detections] == [d.time_s for d in old_dets]
    assert np.allclose([d.probability for d in streamed.detections], [d.probability for d in old_dets], atol=1e-3)
    (probs,) = streamed.probabilities
    assert len(probs) == len(old_probs) and np.abs(probs - old_probs).max() < 1e-3


def test_read_audio_equals_the_old_whole_file_reading(cd_stereo):
    old = whole_file_the_old_way(cd_stereo)
    new = read_audio(cd_stereo, warn=lambda m: None)
    assert abs(len(new) - len(old)) <= 1
    n = min(len(new), len(old))
    assert np.abs(new[:n] - old[:n]).max() < 1e-3
    clip = REPO / "tests" / "data" / "alexa" / "pv-188.flac"  # 16 kHz mono: bit-exact
    assert np.array_equal(read_audio(clip), sf.read(str(clip), dtype="float32")[0])


def test_a_binary_file_object_streams_like_its_path(shipped_model, cd_stereo):
    spotter = Spotter([shipped_model])
    from_path = run_file(spotter, cd_stereo, warn=lambda m: None)
    with open(cd_stereo, "rb") as f:
        from_object = run_file(spotter, io.BytesIO(f.read()), warn=lambda m: None)
    assert from_object.detections == from_path.detections and from_object.n_samples == from_path.n_samples


def peak_traced_bytes(spotter, path, seconds):
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 44100, 2, subtype="PCM_16") as f:
        for _ in range(seconds // 10):
            f.write((0.05 * rng.standard_normal((441000, 2))).astype(np.float32))
    tracemalloc.start()
    try:
        result = run_file(spotter, path, warn=lambda m: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.n_samples == seconds * SR
    return peak


def test_memory_stays_flat_on_a_long_file(shipped_model, tmp_path):
    # 44.1 kHz stereo: reading 3 minutes whole would hold 64 MB of float32 samples at once.
    spotter = Spotter([shipped_model])
    short = peak_traced_bytes(spotter, tmp_path / "short.wav", 30)
    long = peak_traced_bytes(spotter, tmp_path / "long.wav", 180)
    assert long < 1.25 * short and long < 30e6, (short, long)


def test_a_folder_among_the_files_does_not_stop_the_others(tmp_path):
    (tmp_path / "recordings").mkdir()
    r = kws("detect", tmp_path / "recordings", SAMPLE)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"kws: error: {tmp_path / 'recordings'}: is a folder, not an audio file"
    assert [json.loads(line)["file"] for line in r.stdout.splitlines()] == [str(SAMPLE)]


def test_scores_stop_at_the_end_of_the_file():
    r = kws("scores", SAMPLE)
    assert r.returncode == 0, r.stderr
    times = [float(line.split(",")[0]) for line in r.stdout.splitlines()[1:]]
    duration = sf.info(str(SAMPLE)).frames / SR
    assert max(times) <= duration < max(times) + 0.03  # every step inside the file, no padding steps


class FakeSoundDevice:
    """sounddevice's query API with a chosen set of devices."""

    class PortAudioError(Exception):
        pass

    def __init__(self, devices, default_input):
        self.devices = devices
        self.default = type("Default", (), {"device": [default_input, -1]})()

    def query_devices(self, kind=None):
        if kind == "input":
            raise self.PortAudioError("no default input device")
        return self.devices


def device(name, inputs):
    return {"name": name, "max_input_channels": inputs, "max_output_channels": 2, "default_samplerate": 48000.0}


def run_devices(monkeypatch, fake):
    import kws.audio.capture as capture
    from kws.cli.main import cli
    monkeypatch.setattr(capture, "_sd", lambda: fake)
    return CliRunner().invoke(cli, ["devices"])


def test_devices_marks_the_default_input(monkeypatch):
    fake = FakeSoundDevice([device("HDMI out", 0), device("USB mic", 1), device("Webcam", 2)], default_input=2)
    r = run_devices(monkeypatch, fake)
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("   1  USB mic") and lines[1].startswith("*  2  Webcam")


def test_devices_says_when_there_is_no_input(monkeypatch):
    r = run_devices(monkeypatch, FakeSoundDevice([device("HDMI out", 0)], default_input=-1))
    assert r.exit_code == 0 and r.output.startswith("no audio input devices found")
