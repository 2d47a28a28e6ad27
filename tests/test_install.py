"""Installing kws: what a wheel carries, `kws install-service`, `kws train` without the extra."""

import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, needs_portaudio

VENV_KWS = Path(sys.executable).with_name("kws")


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, REPO])
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("kws-*.whl")
    return set(zipfile.ZipFile(path).namelist())


def test_wheel_has_every_package_and_the_data_install_needs(wheel):
    packages = [p.parent.relative_to(REPO) for p in (REPO / "kws").rglob("__init__.py")]
    assert {"kws/daemon", "kws/train/tts"} <= {str(p) for p in packages}
    missing = [str(p) for p in packages if f"{p}/__init__.py" not in wheel]
    assert missing == []
    for data in ("kws/shipped_systemd/kws.service", "kws/shipped_systemd/kws-wyoming.service",
                 "kws/shipped_configs/default.yaml", "kws/shipped_models/alexa.onnx",
                 "kws/shipped_models/alexa.json", "kws/samples/alexa.flac", "kws/train/tts/install.sh"):
        assert data in wheel
    # Nothing in site-packages beside the kws package and its metadata (no kws_models & co.).
    assert {name.split("/")[0] for name in wheel} == {"kws", "kws-0.1.0.dist-info"}


def test_shipped_sample_is_detected_at_the_default_threshold():
    from importlib.resources import files
    r = run([VENV_KWS, "detect", files("kws") / "samples" / "alexa.flac"], cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr
    assert '"keyword": "alexa"' in r.stdout and len(r.stdout.splitlines()) == 1


def test_train_without_its_packages_is_one_line(tmp_path):
    # What a wheel missing kws.train.tts (or an install without the train extra) looked like:
    # `kws train --word` ended in ModuleNotFoundError outside the friendly message.
    code = ("import sys; sys.modules['kws.train.tts.synth'] = None; from kws.cli.main import main;"
            "sys.argv = ['kws', 'train', '--word', 'hey there', '--out', sys.argv[1]]; main()")
    r = run([sys.executable, "-c", code, tmp_path / "m.onnx"], cwd=REPO)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("kws: error: training needs the train extra") and len(r.stderr.splitlines()) == 1


def install_service(*args, executable=VENV_KWS, **kw):
    return run([executable, "install-service", "--no-start", *args], **kw)


def path_with_script(folder: Path, name: str, script: str) -> dict:
    """The environment with an executable shell script ``name`` first on PATH."""
    folder.mkdir()
    (folder / name).write_text(f"#!/bin/sh\n{script}\n")
    (folder / name).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def test_unit_runs_this_kws_not_the_first_on_path(tmp_path):
    other = tmp_path / "bin"
    env = path_with_script(other, "kws", "echo another kws")
    r = install_service("--force", "--unit-dir", tmp_path / "units", "--config-dir", tmp_path / "etc", env=env)
    assert r.returncode == 0, r.stderr
    unit = (tmp_path / "units" / "kws.service").read_text()
    assert f"ExecStart={VENV_KWS.absolute()} listen --config {tmp_path / 'etc' / 'kws.yaml'}" in unit
    assert str(other) not in unit and (tmp_path / "etc" / "kws.yaml").read_text().startswith("# kws listen")


def test_python_m_kws_writes_its_own_interpreter(tmp_path):
    r = run([sys.executable, "-m", "kws.cli.main", "install-service", "--no-start", "--force",
             "--unit-dir", tmp_path, "--config-dir", tmp_path / "etc"], cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert f"ExecStart={Path(sys.executable).absolute()} -m kws.cli.main listen" in (tmp_path / "kws.service").read_text()


@pytest.fixture()
def private_python(tmp_path):
    """`kws` run by this interpreter reached through a folder only its owner may enter (a venv under /root)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    # Through the symlink Python does not see the venv: add its site-packages (and .pth files) by hand.
    boot = (f"import runpy, site, sys; [site.addsitedir(p) for p in {site.getsitepackages()!r}];"
            "sys.argv[0] = 'kws'; runpy.run_module('kws.cli.main', run_name='__main__')")
    return private / "python", [private / "python", "-c", boot]


def test_interpreter_the_service_user_cannot_read_is_refused(tmp_path, private_python):
    python, kws = private_python
    argv = [*kws, "install-service", "--no-start", "--unit-dir", tmp_path / "units", "--config-dir", tmp_path / "etc"]
    r = run(argv, cwd=REPO)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "cannot read" in r.stderr and str(python.parent) in r.stderr
    assert "/opt/kws" in r.stderr and "--force" in r.stderr
    assert not (tmp_path / "units" / "kws.service").exists()
    r = run([*argv, "--force"], cwd=REPO)  # an explicit override still writes it, with the warning
    assert r.returncode == 0 and "warning: the service's DynamicUser cannot read" in r.stdout, r.stderr
    assert f"ExecStart={python} -m kws.cli.main listen" in (tmp_path / "units" / "kws.service").read_text()


@pytest.fixture()
def public_dir():
    """A folder every user may enter (pytest's own tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_permission_check_follows_folders_and_symlinks(public_dir):
    from kws.daemon.install import unreadable_by_others

    exe = public_dir / "python"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert unreadable_by_others(exe) is None
    secret = public_dir / "secret"
    secret.mkdir(mode=0o700)
    (secret / "python").write_text("#!/bin/sh\n")
    (public_dir / "link").symlink_to(secret / "python")
    assert str(secret) in unreadable_by_others(public_dir / "link")
    exe.chmod(0o750)
    assert "-rwxr-x---" in unreadable_by_others(exe)


def test_existing_unit_is_backed_up_before_overwriting(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    (units / "kws.service").write_text("[Service]\nExecStart=/my/own/kws listen\n")
    r = install_service("--force", "--unit-dir", units, "--config-dir", tmp_path / "etc")
    assert r.returncode == 0, r.stderr
    (backup,) = units.glob("kws.service.bak-*")
    assert backup.read_text() == "[Service]\nExecStart=/my/own/kws listen\n"
    assert f"kept the previous unit as {backup}" in r.stdout
    r = install_service("--force", "--unit-dir", units, "--config-dir", tmp_path / "etc")
    assert len(list(units.glob("kws.service.bak-*"))) == 1  # the same unit again needs no backup


def installed_unit(tmp_path):
    from kws.daemon.install import install
    install(tmp_path / "units", tmp_path / "etc", start=False, kws_executable=str(VENV_KWS), force=True)
    return tmp_path / "units" / "kws.service"


def test_unit_exposure_is_at_most_2_5(tmp_path):
    assert exposure(installed_unit(tmp_path)) <= 2.5


def exposure(unit: Path) -> float:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not available (.ci/run installs systemd)")
    r = run(["systemd-analyze", "security", "--offline=yes", unit])
    found = re.search(rf"Overall exposure level for {unit.name}: ([0-9.]+)", r.stdout)
    assert found, r.stdout + r.stderr
    return float(found.group(1))


def test_wyoming_unit_is_installed_by_a_command_and_hardened_like_the_listener(tmp_path):
    r = install_service("--force", "--wyoming", "--allow", "192.168.1.0/24", "--uri", "tcp://0.0.0.0:10500",
                        "--unit-dir", tmp_path / "units", "--config-dir", tmp_path / "etc")
    assert r.returncode == 0, r.stderr
    unit = tmp_path / "units" / "kws-wyoming.service"
    lines = unit.read_text().splitlines()
    assert (f"ExecStart={VENV_KWS.absolute()} serve --uri tcp://0.0.0.0:10500 --config "
            f"{tmp_path / 'etc' / 'kws.yaml'}") in lines
    assert "IPAddressAllow=localhost 192.168.1.0/24" in lines and (tmp_path / "etc" / "kws.yaml").is_file()
    assert f"wrote {unit} " in r.stdout and not (tmp_path / "units" / "kws.service").exists()
    assert exposure(unit) <= 2.5
    r = install_service("--force", "--wyoming", "--unit-dir", tmp_path / "u2", "--config-dir", tmp_path / "etc")
    assert "IPAddressAllow=localhost" in (tmp_path / "u2" / "kws-wyoming.service").read_text().splitlines()
    assert "note: only localhost may connect" in r.stdout
    r = install_service("--allow", "10.0.0.1", "--unit-dir", tmp_path / "u3", "--config-dir", tmp_path / "etc")
    assert r.returncode == 2 and r.stderr.strip() == ("kws: error: --uri and --allow are settings of the Wyoming "
                                                      "server's unit; add --wyoming")


def test_shipped_wyoming_template_rates_as_the_listener(tmp_path):
    assert exposure(REPO / "systemd" / "kws-wyoming.service") <= 2.5


def test_what_was_written_is_reported_before_systemctl_fails(tmp_path):
    env = path_with_script(tmp_path / "bin", "systemctl", "echo 'System has not been booted with systemd' >&2\nexit 1")
    r = run([VENV_KWS, "install-service", "--force", "--unit-dir", tmp_path / "units", "--config-dir",
             tmp_path / "etc"], env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"wrote {tmp_path / 'units' / 'kws.service'} " in r.stdout
    assert f"wrote {tmp_path / 'etc' / 'kws.yaml'} from configs/default.yaml" in r.stdout
    assert r.stderr.strip() == "kws: error: systemctl daemon-reload failed: System has not been booted with systemd"


@needs_portaudio
def test_memory_deny_write_execute_would_break_the_audio_callback():
    """Why the unit leaves MemoryDenyWriteExecute off: sounddevice's callback needs W+X memory.

    If this starts failing, sounddevice no longer needs it: turn MemoryDenyWriteExecute on."""
    code = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True);"
            "sys.exit(3) if libc.prctl(65, 1, 0, 0, 0) else None;"  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
            "import sounddevice as sd; sd._ffi.callback('PaStreamCallback', lambda *a: 0)")
    r = run([sys.executable, "-c", code])
    if r.returncode == 3:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert r.returncode != 0 and "Cannot allocate write+execute memory" in r.stderr, r.stderr
    assert "MemoryDenyWriteExecute=yes" not in unit_template_lines()


def unit_template_lines():
    from kws.daemon.install import unit_template
    return [line for line in unit_template().splitlines() if not line.startswith("#")]
