"""Audio from other programs: `kws detect -` and `kws listen --raw-stdin`, through real pipes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr

from kws.audio.pcm import PcmConverter
from tests.conftest import DATA, REPO

KEYWORD = DATA / "keywords" / "alexa" / "pv-205.flac"  # the shipped alexa model detects it


@pytest.fixture(scope="module")
def keyword():
    if not KEYWORD.is_file():
        pytest.skip(f"{KEYWORD} not found (set KWS_DATA_ROOT)")
    audio, sr = sf.read(KEYWORD, dtype="float32")
    assert sr == 16000
    return audio


KWS = [sys.executable, "-m", "kws.cli.main"]


def piped(writer_code: str, *kws_args, timeout=120):
    """`python -c writer_code | kws kws_args`: two real processes joined by a pipe."""
    writer = subprocess.Popen([sys.executable, "-c", writer_code], stdout=subprocess.PIPE, cwd=REPO)
    try:
        return subprocess.run([*KWS, *kws_args], stdin=writer.stdout, capture_output=True, text=True,
                              cwd=REPO, timeout=timeout)
    finally:
        writer.stdout.close()
        writer.wait(timeout=30)


def lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_detect_reads_an_audio_file_from_stdin(tmp_path, keyword, suffix):
    path = tmp_path / f"kw{suffix}"
    sf.write(path, keyword, 16000)
    r = piped(f"import sys; sys.stdout.buffer.write(open({str(path)!r}, 'rb').read())", "detect", "-")
    assert r.returncode == 0, r.stderr
    (det,) = lines(r.stdout)
    assert det["file"] == "-" and det["keyword"] == "alexa"


def test_detect_stdin_converts_rate_and_channels_and_notes_it(tmp_path, keyword):
    path = tmp_path / "kw44.flac"
    sf.write(path, np.repeat(soxr.resample(keyword, 16000, 44100)[:, None], 2, axis=1), 44100)
    r = piped(f"import sys; sys.stdout.buffer.write(open({str(path)!r}, 'rb').read())", "detect", "-")
    assert r.returncode == 0, r.stderr
    assert [d["keyword"] for d in lines(r.stdout)] == ["alexa"]
    assert "-: 2 channels, averaged to mono" in r.stderr and "-: 44100 Hz, resampled to 16000 Hz" in r.stderr


@pytest.mark.parametrize("data,message", [(b"this is not audio\n" * 10, "-: not a readable audio file"),
                                          (b"", "-: no data on stdin")])
def test_detect_stdin_bad_input_is_one_line(data, message):
    r = subprocess.run([*KWS, "detect", "-"], input=data, capture_output=True, cwd=REPO, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.strip().splitlines() == [err.strip()] and message in err, err


def pcm_writer(path, rate=16000, dtype="<i2", channels=1, keyword_channel=0, chunk=1111):
    """Python code that writes the keyword as raw PCM to stdout in odd-sized chunks."""
    return f"""
import sys, numpy as np, soundfile as sf, soxr
a, _ = sf.read({str(path)!r}, dtype="float32")
a = soxr.resample(a, 16000, {rate}) if {rate} != 16000 else a
frames = np.zeros((len(a), {channels}), np.float64)
frames[:, {keyword_channel}] = a
scale = {{"<i2": 32767, "<i4": 2147483647, "<f4": 1}}["{dtype}"]
data = (frames * scale).astype("{dtype}").tobytes()
for i in range(0, len(data), {chunk}):
    sys.stdout.buffer.write(data[i:i + {chunk}])
"""


def test_listen_raw_stdin_gives_the_json_line_and_exits_at_eof(keyword):
    r = piped(pcm_writer(KEYWORD), "listen", "--raw-stdin", "--rate", "16000", "--format", "s16le",
              "--channels", "1", "--no-chime")
    assert r.returncode == 0, r.stderr
    (det,) = lines(r.stdout)
    assert det["keyword"] == "alexa" and 1.0 < det["time_s"] < 2.1
    assert "Traceback" not in r.stderr and "stalled" not in r.stderr and "reopening" not in r.stderr


def test_listen_raw_stdin_other_formats_and_channel_choice(keyword):
    code = pcm_writer(KEYWORD, rate=48000, dtype="<i4", channels=2, keyword_channel=1)
    args = ["listen", "--raw-stdin", "--rate", "48000", "--format", "s32le", "--channels", "2", "--no-chime"]
    kw = piped(code, *args, "--channel", "1")
    silent = piped(code, *args, "--channel", "0")
    assert kw.returncode == 0 and silent.returncode == 0, kw.stderr + silent.stderr
    assert [d["keyword"] for d in lines(kw.stdout)] == ["alexa"]
    assert lines(silent.stdout) == []


def test_listen_pcm_options_need_raw_stdin_and_a_real_channel():
    r = subprocess.run([*KWS, "listen", "--rate", "8000"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and "kws: error: --rate, --format and --channels describe --raw-stdin" in r.stderr
    r = subprocess.run([*KWS, "listen", "--raw-stdin", "--channels", "2", "--channel", "2"], input="",
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and "kws: error: channel 2 does not exist in 2-channel audio" in r.stderr
    r = subprocess.run([*KWS, "listen", "--raw-stdin", "--format", "s24le"], input="",
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and "kws: error: unsupported sample format 's24le' (supported: u8, s16le" in r.stderr


@pytest.mark.parametrize("fmt,dtype,scale", [("s16le", "<i2", 32767), ("s32le", "<i4", 2**31 - 1),
                                             ("f32le", "<f4", 1.0), ("u8", "u1", None)])
def test_pcm_converter_is_independent_of_how_bytes_are_split(fmt, dtype, scale):
    rng = np.random.default_rng(0)
    audio = (0.5 * rng.standard_normal((4410, 2))).clip(-1, 1).astype(np.float32)
    wide = audio.astype(np.float64)  # float32 * (2**31 - 1) would round up past the int32 range
    raw = ((wide * 127 + 128) if scale is None else wide * scale).astype(dtype).tobytes()
    whole = PcmConverter(44100, fmt, 2).convert(raw, last=True)
    c = PcmConverter(44100, fmt, 2)
    pieces = [c.convert(raw[i:i + 7]) for i in range(0, len(raw), 7)] + [c.convert(b"", last=True)]
    split = np.concatenate(pieces)
    assert len(whole) == len(split) == 1600
    np.testing.assert_allclose(split, whole, atol=1e-6)
    direct = soxr.resample(audio.mean(axis=1), 44100, 16000, quality="HQ")
    np.testing.assert_allclose(whole, direct, atol=0.02)


def _listen_raw(stdin: bytes, *args, python_flags=()):
    try:
        return subprocess.run([sys.executable, *python_flags, "-m", "kws.cli.main", "listen", "--raw-stdin",
                               "--no-chime", *args], input=stdin, capture_output=True, cwd=REPO, timeout=60)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"kws listen --raw-stdin kept running after its input ended: {exc.stderr}")


def test_listen_raw_stdin_ends_cleanly_on_a_stream_without_one_whole_sample():
    # One byte of s16le is no sample: the block is empty. With warnings as errors, an empty
    # block's level (mean of nothing) once killed the listener thread and `kws listen` hung.
    r = _listen_raw(b"\0", python_flags=("-W", "error"))
    assert r.returncode == 0, r.stderr
    assert b"Warning" not in r.stderr and b"Traceback" not in r.stderr, r.stderr


def test_a_failure_in_the_listener_thread_ends_kws_listen_with_one_error_line():
    # NaN samples are refused by the Spotter inside the listener thread: the process must
    # exit non-zero (systemd restarts it) instead of waiting forever for a dead thread.
    audio = np.zeros(16000, np.float32)
    audio[8000] = np.nan
    r = _listen_raw(audio.tobytes(), "--format", "f32le")
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.decode().splitlines() if line.startswith("kws: error:")]
    assert errors == ["kws: error: listening stopped: samples contain NaN or infinite values"], r.stderr
    assert b"Traceback" not in r.stderr
