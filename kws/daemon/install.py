"""``kws install-service``: put the unit template in place for the kws that runs it.

The unit templates (systemd/kws.service, systemd/kws-wyoming.service) and the default config (configs/default.yaml) are
package data (the ``kws.shipped_systemd`` and ``kws.shipped_configs`` packages), so a wheel install works
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
from typing import Iterator

import kws
from kws.errors import KwsError

TEMPLATE_KWS = "/usr/local/bin/kws"  # the template's kws, replaced by the one that installs it
TEMPLATE_CONFIG = "/etc/kws/kws.yaml"
TEMPLATE_ALLOW = "IPAddressAllow=localhost 192.168.1.10"  # kws-wyoming.service's placeholder
TEMPLATE_URI = "--uri tcp://0.0.0.0:10400"
# unit file -> the kws subcommand it runs
UNITS = {"kws.service": "listen", "kws-wyoming.service": "serve"}


def unit_template(name: str = "kws.service") -> str:
    return (resources.files("kws.shipped_systemd") / name).read_text()


def default_config() -> str:
    return (resources.files("kws.shipped_configs") / "default.yaml").read_text()


def running_command() -> list[str]:
    """The command that runs this very kws: its entry-point script, or ``python -m kws.cli.main``."""
    script = Path(sys.argv[0]).absolute()
    if script.name == "kws" and script.is_file():
        return [str(script)]
    return [str(Path(sys.executable).absolute()), "-m", "kws.cli.main"]


def unit_text(command: list[str] | str, name: str = "kws.service", config: str | Path = TEMPLATE_CONFIG,
              uri: str | None = None, allow: list[str] | None = None) -> str:
    """The unit ``name`` for ``command`` (the kws to run) reading ``config``; for the Wyoming
    unit also the --uri and the addresses allowed to connect besides localhost."""
    if isinstance(command, str):
        command = [command]
    template = unit_template(name)
    exec_line = f"ExecStart={TEMPLATE_KWS} {UNITS[name]} "
    if exec_line not in template or f"--config {TEMPLATE_CONFIG}" not in template:
        raise KwsError(f"unit template {name} has no '{exec_line}… --config {TEMPLATE_CONFIG}' line to fill in")
    text = template.replace(exec_line, f"ExecStart={shlex.join(command)} {UNITS[name]} ")
    text = text.replace(f"--config {TEMPLATE_CONFIG}", f"--config {shlex.quote(str(config))}")
    if uri is not None:
        text = text.replace(TEMPLATE_URI, f"--uri {shlex.quote(uri)}")
    if allow is not None:
        text = text.replace(TEMPLATE_ALLOW, " ".join(["IPAddressAllow=localhost", *allow]))
    return text


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
            start: bool = True, kws_executable: str | None = None, force: bool = False, **kw) -> list[str]:
    """install_steps, all of them: one line per thing done."""
    return list(install_steps(unit_dir, config_dir, start, kws_executable, force, **kw))


def install_steps(unit_dir: Path = Path("/etc/systemd/system"), config_dir: Path = Path("/etc/kws"),
                  start: bool = True, kws_executable: str | None = None, force: bool = False,
                  wyoming: bool = False, uri: str | None = None, allow: list[str] | None = None) -> Iterator[str]:
    """Write the unit and (if absent) the config, yielding one line per thing done as it is done,
    so that what was written is reported even when a later step (systemctl) fails.

    ``wyoming``: kws-wyoming.service (``kws serve``, with ``uri`` and the ``allow`` addresses)
    instead of kws.service.  Refuses (KwsError) when the service user could not read the kws it
    would run, unless ``force``; an existing, different unit is kept as ``<unit>.bak-<time>``.
    """
    name = "kws-wyoming.service" if wyoming else "kws.service"
    if not wyoming and (uri is not None or allow):
        raise KwsError("--uri and --allow are settings of the Wyoming server's unit; add --wyoming")
    command = [kws_executable] if kws_executable else running_command()
    blocked = next(filter(None, map(unreadable_by_others, files_the_service_runs(command))), None)
    if blocked:
        advice = (f"the service's DynamicUser cannot read {blocked}; install kws where every user can "
                  f"read it, e.g. /opt/kws (README: Raspberry Pi service)")
        if not force:
            raise KwsError(f"{advice}, or pass --force")
        yield f"warning: {advice}"
    cfg = Path(os.path.abspath(config_dir)) / "kws.yaml"
    text = unit_text(command, name, cfg, uri, list(allow or ()) if wyoming else None)
    unit_dir.mkdir(parents=True, exist_ok=True)
    unit = unit_dir / name
    if unit.exists() and unit.read_text() != text:
        backup = backup_name(unit)
        shutil.copy2(unit, backup)
        yield f"kept the previous unit as {backup}"
    unit.write_text(text)
    yield f"wrote {unit} (ExecStart={shlex.join(command)} {UNITS[name]} … --config {shlex.quote(str(cfg))})"
    if wyoming and not allow:
        yield ("note: only localhost may connect (IPAddressAllow=localhost); pass --allow with your Home "
               "Assistant's address or LAN, e.g. --allow 192.168.1.0/24")
    cfg.parent.mkdir(parents=True, exist_ok=True)
    if not cfg.exists():
        cfg.write_text(default_config())
        yield f"wrote {cfg} from configs/default.yaml"
    else:
        yield f"kept existing {cfg}"
    if start:
        for cmd in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", name]):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True)
            except FileNotFoundError:
                raise KwsError(f"{' '.join(cmd)} failed: systemctl not found (is this a systemd machine? "
                               f"--no-start writes the files only)") from None
            if r.returncode:
                raise KwsError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
            yield " ".join(cmd)
