"""Naming models on the command line and in configs, and checking their sidecars: through `kws detect`."""

import json
import shutil
import subprocess
import sys

import pytest

from kws.model.detector import shipped_models_dir
from tests.conftest import REPO, copy_model

SAMPLE = REPO / "kws" / "samples" / "alexa.flac"


def kws(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "kws.cli.main", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def one_line_error(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("kws: error: ")
    return r.stderr


@pytest.mark.parametrize("field, value, expected", [
    ("threshold", "high", "key 'threshold' must be a number, got 'high'"),
    ("threshold", 2.0, "threshold must be within [0, 1]"),
    ("threshold", True, "key 'threshold' must be a number"),
    ("consecutive", 0, "consecutive must be >= 1"),
    ("consecutive", 1.5, "key 'consecutive' must be an integer"),
    ("frames_per_step", 0, "frames_per_step must be >= 1"),
    ("frames_per_step", -3, "frames_per_step must be >= 1"),
    ("frames_per_step", 2, "key 'frames_per_step' is 2, but the graph makes 3 steps from 8 frames"),
    ("frames_per_step", 6, "key 'frames_per_step' is 6, but the graph makes 8 steps from 24 frames"),
    ("refractory_s", -1, "refractory_s must be within [0, 60]"),
    ("refractory_s", "soon", "key 'refractory_s' must be a number"),
    ("state", ["conv_state", "gru_state"], "key 'state' must be a mapping"),
    ("state", {"conv_state": 1}, "state must map each state input name to its output name"),
    ("keyword", 5, "key 'keyword' must be a string, got 5"),
    ("keyword", " ", "keyword must be a non-empty string"),
    ("frontend", 3, "key 'frontend' must be a mapping"),
])
def test_bad_sidecar_value_is_one_line_naming_the_field(tmp_path, field, value, expected):
    model = copy_model(tmp_path, **{field: value})
    err = one_line_error(kws("detect", "--model", model, SAMPLE))
    assert str(model.with_suffix(".json")) in err and expected in err, err


def test_a_folder_named_like_the_shipped_model_does_not_hide_it(tmp_path):
    (tmp_path / "alexa").mkdir()
    (tmp_path / "alexa.json").write_text("{}")
    for ref in ("alexa", "builtin:alexa"):
        r = kws("detect", "--model", ref, SAMPLE, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert '"keyword": "alexa"' in r.stdout
    r = kws("detect", SAMPLE, cwd=tmp_path)  # the default config's "alexa" as well
    assert r.returncode == 0 and '"keyword": "alexa"' in r.stdout, r.stderr


def test_a_model_file_in_the_cwd_is_used_by_its_path(tmp_path):
    copy_model(tmp_path, "alexa", keyword="mine")
    r = kws("detect", "--model", "./alexa.onnx", SAMPLE, cwd=tmp_path)
    assert r.returncode == 0 and '"keyword": "mine"' in r.stdout, r.stderr
    r = kws("detect", "--model", "alexa.onnx", SAMPLE, cwd=tmp_path)
    assert r.returncode == 0 and '"keyword": "mine"' in r.stdout, r.stderr


# What the message must list: every .onnx with a sidecar (a second stage's head has none).
SHIPPED = ", ".join(sorted(p.stem for p in (REPO / "models").glob("*.onnx") if p.with_suffix(".json").is_file()))


@pytest.mark.parametrize("ref, expected", [
    ("alexa.json", "that is a sidecar; pass the .onnx file beside it (alexa.onnx)"),
    ("folder.onnx", "model folder.onnx: is a folder, not an .onnx file"),
    ("gone.onnx", "model gone.onnx: no such file"),
    ("builtin:nosuch", f"model 'builtin:nosuch': no shipped model of that name (shipped: {SHIPPED})"),
    ("nosuch", f"model 'nosuch': no shipped model of that name (shipped: {SHIPPED}); for a file"),
])
def test_model_reference_errors_say_what_is_wrong(tmp_path, ref, expected):
    copy_model(tmp_path, "alexa")
    (tmp_path / "folder.onnx").mkdir()
    err = one_line_error(kws("detect", "--model", ref, SAMPLE, cwd=tmp_path))
    assert expected in err, err


def test_two_models_with_the_same_keyword_are_refused(tmp_path):
    model = copy_model(tmp_path)
    err = one_line_error(kws("detect", "--model", "alexa", "--model", model, SAMPLE))
    assert "have the keyword 'alexa'" in err and str(model) in err


def test_config_model_paths_are_relative_to_the_config_file(tmp_path):
    conf = tmp_path / "etc"
    copy_model(conf / "models", "word", keyword="word")
    (conf / "kws.yaml").write_text("models:\n  - path: models/word.onnx\n  - alexa\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    r = kws("detect", "--config", conf / "kws.yaml", SAMPLE, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert {json.loads(line)["keyword"] for line in r.stdout.splitlines()} == {"word", "alexa"}
    # On the command line, a relative --model path is the working directory's.
    err = one_line_error(kws("detect", "--config", conf / "kws.yaml", "--model", "models/word.onnx", SAMPLE,
                             cwd=elsewhere))
    assert "model models/word.onnx: no such file" in err
