"""``kws install-service``: put systemd/kws.service in place for the kws that runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from kws.errors import KwsError

UNIT_SOURCE = Path(__file__).resolve().parents[2] / "systemd" / "kws.service"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def unit_text(kws_executable: str) -> str:
    if not UNIT_SOURCE.is_file():
        raise KwsError(f"{UNIT_SOURCE}: unit template not found (install from a source checkout)")
    return UNIT_SOURCE.read_text().replace("/usr/local/bin/kws listen", f"{kws_executable} listen")


def install(unit_dir: Path = Path("/etc/systemd/system"), config_dir: Path = Path("/etc/kws"),
            start: bool = True, kws_executable: str | None = None) -> list[str]:
    exe = kws_executable or shutil.which("kws") or str(Path(sys.executable).with_name("kws"))
    done = []
    unit_dir.mkdir(parents=True, exist_ok=True)
    (unit_dir / "kws.service").write_text(unit_text(exe))
    done.append(f"wrote {unit_dir / 'kws.service'} (ExecStart={exe} listen …)")
    config_dir.mkdir(parents=True, exist_ok=True)
    cfg = config_dir / "kws.yaml"
    if not cfg.exists():
        shutil.copy(DEFAULT_CONFIG, cfg)
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

