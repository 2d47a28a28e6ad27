"""The `kws` command as a user runs it: real processes, real exit codes, real stderr."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, SR, embed, read


def kws(*args, **kw):
    return subprocess.run([sys.executable, "-m", "kws.cli.main", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=300, **kw)


def detections(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def keyword_wav(tmp_path_factory, alexa_test_clips, background_speech):
    audio, spans = embed(alexa_test_clips, background_speech)
    path = tmp_path_factory.mktemp("wav") / "with_keyword.wav"
    sf.write(path, audio, SR)
    return path, spans


@pytest.fixture(scope="module")
def background_wav(tmp_path_factory, data_root):
    # 4.5 min that the shipped model must not fire on (a release check, not a benchmark): test-split
    # telephone prompts, then two chunks of training-split sources (spoken game words, game music)
    speech = read(data_root / "background" / "speech" / "asterisk_en_005.ogg")[120 * SR: 210 * SR]
    words = read(data_root / "background" / "speech" / "ktuberling_words_005.ogg")[: 90 * SR]
    music = read(data_root / "background" / "music" / "wesnoth_005.ogg")[: 90 * SR]
    path = tmp_path_factory.mktemp("wav") / "no_keyword.wav"
    sf.write(path, np.concatenate([speech, words, music]), SR)
    return path


def test_detect_finds_the_keyword_where_it_was_said(keyword_wav):
    path, spans = keyword_wav
    r = kws("detect", path)
    assert r.returncode == 0, r.stderr
    dets = detections(r.stdout)
    hit = [any(a <= d["time_s"] <= b + 1.0 for d in dets) for a, b in spans]
    outside = [d for d in dets if not any(a <= d["time_s"] <= b + 1.0 for a, b in spans)]
    # The shipped model's dev-stream miss rate at its sidecar threshold is tens of percent
    # (README); on these 12 held-out test clips it finds 10 (`kws detect` on this wav, r8-seed2).
    # Two thirds is the floor here.
    assert sum(hit) >= 2 * len(spans) // 3, (hit, dets)
    assert outside == []
    assert {d["keyword"] for d in dets} == {"alexa"} and all(d["file"] == str(path) for d in dets)


def test_detect_finds_nothing_without_the_keyword(background_wav):
    r = kws("detect", background_wav)
    assert r.returncode == 0, r.stderr
    assert detections(r.stdout) == []


def test_other_rates_and_stereo_are_converted_with_a_note(tmp_path, alexa_test_clips, background_speech):
    import soxr
    audio, spans = embed(alexa_test_clips[:3], background_speech)
    stereo = np.stack([soxr.resample(audio, SR, 44100)] * 2, axis=1)
    path = tmp_path / "cd.wav"
    sf.write(path, stereo, 44100)
    r = kws("detect", path)
    assert r.returncode == 0
    assert "44100 Hz, resampled" in r.stderr and "2 channels" in r.stderr
    assert len(detections(r.stdout)) >= 2


def test_bad_files_fail_one_line_each_and_others_still_run(tmp_path, keyword_wav):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(keyword_wav[0].read_bytes()[:30])
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    r = kws("detect", empty, truncated, keyword_wav[0], text, tmp_path / "missing.wav")
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("kws: error:")]
    assert len(errors) == 4 and "Traceback" not in r.stderr
    for p in (empty, truncated, text, tmp_path / "missing.wav"):
        assert sum(str(p) in e for e in errors) == 1
    assert len(detections(r.stdout)) >= 8  # the good file was still processed


@pytest.mark.parametrize("yaml_text, expected", [
    ("trigger:\n  refractory: 2\n", "unknown key 'trigger.refractory'"),
    ("trigger:\n  refractory_s: soon\n", "key 'trigger.refractory_s' must be a number"),
    ("models:\n  - path: alexa\n    threshold: 3\n", "models[0].threshold must be within"),
    ("audio: [1, 2]\n", "'audio' must be a mapping"),
    ("models: [x: [\n", "not valid YAML"),
])
def test_bad_config_names_the_key(tmp_path, keyword_wav, yaml_text, expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    r = kws("detect", "--config", cfg, keyword_wav[0])
    assert r.returncode == 2
    assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_missing_model_names_the_path(tmp_path, keyword_wav):
    r = kws("detect", "--model", tmp_path / "gone.onnx", keyword_wav[0])
    assert r.returncode == 2 and str(tmp_path / "gone.onnx") in r.stderr
    assert "Traceback" not in r.stderr


def test_scores_csv(keyword_wav):
    r = kws("scores", keyword_wav[0])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "time_s,probability"
    rows = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    assert np.all(np.diff(rows[:, 0]) > 0) and rows[:, 1].max() > 0.5 and rows[:, 1].min() >= 0
    assert abs(rows[1, 0] - rows[0, 0] - 0.03) < 1e-6


def test_scores_reads_stdin_and_several_files_with_a_file_column(tmp_path, keyword_wav):
    one = kws("scores", keyword_wav[0])
    piped = kws("scores", "-", input=None, stdin=open(keyword_wav[0], "rb"))
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == one.stdout
    first = tmp_path / "first.wav"
    sf.write(first, sf.read(keyword_wav[0], dtype="float32")[0][: 5 * SR], SR)
    r = kws("scores", first, keyword_wav[0], tmp_path / "missing.wav")
    assert r.returncode == 2 and r.stderr.strip() == f"kws: error: {tmp_path / 'missing.wav'}: no such file"
    lines = r.stdout.splitlines()
    assert lines[0] == "file,time_s,probability"
    files = [line.split(",", 1)[0] for line in lines[1:]]
    assert files == [str(first)] * files.count(str(first)) + [str(keyword_wav[0])] * (len(one.stdout.splitlines()) - 1)
    assert [line.split(",", 1)[1] for line in lines[1:] if line.startswith(str(keyword_wav[0]))] == \
        one.stdout.splitlines()[1:]


def test_version_and_help():
    assert kws("--version").stdout.startswith("kws, version")
    r = kws("--help")
    assert all(c in r.stdout for c in ("listen", "detect", "scores", "devices", "train"))


def test_runtime_never_imports_torch():
    code = ("import sys, kws, kws.cli.main, kws.daemon.service, kws.filemode, kws.eval.scoring, kws.actions;"
            "from kws.model import KeywordModel; KeywordModel('alexa');"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy', 'matplotlib') or m.startswith('kws.train')];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_eval_without_the_data_folder_is_one_line(tmp_path):
    r = kws("eval", "--data-root", tmp_path / "nowhere")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"kws: error: data root {tmp_path / 'nowhere'}: no such folder (give --data-root DIR or set "
        f"$KWS_DATA_ROOT; in a training config: data.root)"]


@pytest.mark.parametrize("suffix, keep", [(".wav", 1 / 3), (".flac", 0.6)])
def test_a_truncated_file_gives_what_decodes_then_says_it_is_truncated(tmp_path, keyword_wav, suffix, keep):
    audio, sr = sf.read(keyword_wav[0], dtype="float32")
    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, audio, sr)
    cut = tmp_path / f"cut{suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * keep)])
    r = kws("detect", cut)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("kws: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"kws: error: {cut}: truncated or damaged: only the first ")
    assert f"of the {len(audio) / sr:.1f} s its header promises" in errors[0] and "Traceback" not in r.stderr
    found = detections(r.stdout)  # the part that decodes is still searched
    assert found and max(d["time_s"] for d in found) < len(audio) / sr * keep + 1


def test_random_bytes_on_stdin_are_named_stdin_not_a_python_object():
    r = kws("detect", "-", input=np.random.default_rng(1).bytes(5000).decode("latin-1"))
    assert r.returncode == 2
    assert r.stderr.strip() == "kws: error: -: not a readable audio file (Error opening stdin: Format not recognised.)"
