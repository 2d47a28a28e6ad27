"""bench/aarch64.sh (not run by CI: needs root, binfmt_misc, a mirror): it must at least parse,
and no committed file may name a package mirror host (the script reads it from apt sources)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_aarch64_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "aarch64.sh")], check=True)


def test_aarch64_script_names_no_mirror_host():
    text = (ROOT / "bench" / "aarch64.sh").read_text()
    assert not re.search(r"https?://[a-z0-9-]+\.[a-z0-9.-]+", text), "the mirror comes from apt sources or MIRROR="
