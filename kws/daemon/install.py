"""``kws install-service``: put the unit template in place for the kws that runs it.

The unit template (systemd/kws.service) and the default config (configs/default.yaml) are
package data (the ``kws_systemd`` and ``kws_configs`` packages), so a wheel install works
as well as a checkout.  The unit's ExecStart is the running kws, never the first one on
PATH, and the service's DynamicUser must be able to read it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import kws
from kws.errors import KwsError

TEMPLATE_EXEC = "/usr/local/bin/kws listen"


def unit_template() -> str:
    return (resources.files("kws_systemd") / "kws.service").read_text()


def default_config() -> str:
    return (resources.files("kws_configs") / "default.yaml").read_text()


def running_command() -> list[str]:
    """The command that runs this very kws: its entry-point script, or ``python -m kws.cli.main``."""
    script = Path(sys.argv[0]).absolute()
    if script.name == "kws" and script.is_file():
        return [str(script)]
    return [str(Path(sys.executable).absolute()), "-m", "kws.cli.main"]


def unit_text(command: list[str] | str) -> str:
    if isinstance(command, str):
        command = [command]
    template = unit_template()
    if TEMPLATE_EXEC not in template:
        raise KwsError(f"unit template has no 'ExecStart={TEMPLATE_EXEC} …' line to fill in")
    return template.replace(TEMPLATE_EXEC, f"{shlex.join(command)} listen")


def interpreter_of(path: Path) -> Path | None:
    """The interpreter named in a script's ``#!`` line, or None for a binary."""
    try:
        with open(path, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    return Path(words[0]) if words else None


def files_the_service_runs(command: list[str]) -> list[Path]:
    """Everything the service user must be able to read: executable, its interpreter, the kws package."""
    paths = [Path(command[0])]
    interp = interpreter_of(paths[0])
    if interp is not None:
        paths.append(interp)
    paths.append(Path(kws.__file__).parent)
    return paths


def unreadable_by_others(path: Path) -> str | None:
    """Why a user that is not the owner (a DynamicUser) cannot use ``path``, or None.

    Checks the permission bits for "other" users on the path itself and on every folder
    above it, for the path as given and with symlinks resolved (a venv's python links to
    the real interpreter, e.g. under /root/.pyenv).
    """
    for candidate in dict.fromkeys([Path(os.path.abspath(path)), Path(os.path.realpath(path))]):
        try:
            mode = candidate.stat().st_mode
        except OSError as exc:
            return f"{candidate}: {exc.strerror}"
        need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) or mode & stat.S_IXUSR else 0)
        if mode & need != need:
            return f"{candidate} (mode {stat.filemode(mode)})"
        for folder in candidate.parents:
            fmode = folder.stat().st_mode
            if not fmode & stat.S_IXOTH:
                return f"{folder} (mode {stat.filemode(fmode)})"
    return None


def backup_name(unit: Path) -> Path:
    return unit.with_name(f"{unit.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}")


def install(unit_dir: Path = Path("/etc/systemd/system"), config_dir: Path = Path("/etc/kws"),
            start: bool = True, kws_executable: str | None = None, force: bool = False) -> list[str]:
    """Write the unit and (if absent) the config; return one line per thing done.

    Refuses (KwsError) when the service user could not read the kws it would run, unless
    ``force``; an existing, different unit is kept as ``kws.service.bak-<time>``.
    """
    command = [kws_executable] if kws_executable else running_command()
    done = []
    blocked = next(filter(None, map(unreadable_by_others, files_the_service_runs(command))), None)
    if blocked:
        advice = (f"the service's DynamicUser cannot read {blocked}; install kws where every user can "
                  f"read it, e.g. /opt/kws (README: Raspberry Pi service)")
        if not force:
            raise KwsError(f"{advice}, or pass --force")
        done.append(f"warning: {advice}")
    text = unit_text(command)
    unit_dir.mkdir(parents=True, exist_ok=True)
    unit = unit_dir / "kws.service"
    if unit.exists() and unit.read_text() != text:
        backup = backup_name(unit)
        shutil.copy2(unit, backup)
        done.append(f"kept the previous unit as {backup}")
    unit.write_text(text)
    done.append(f"wrote {unit} (ExecStart={shlex.join(command)} listen …)")
    config_dir.mkdir(parents=True, exist_ok=True)
    cfg = config_dir / "kws.yaml"
    if not cfg.exists():
        cfg.write_text(default_config())
        done.append(f"wrote {cfg} from configs/default.yaml")
    else:
        done.append(f"kept existing {cfg}")
    if start:
        for cmd in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "kws.service"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise KwsError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
            done.append(" ".join(cmd))
    return done
