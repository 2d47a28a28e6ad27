"""Package discovery (metadata is in pyproject.toml).

Every package under kws/ is found, so a new subpackage cannot be left out of a wheel.  The
top-level folders models/, systemd/ and configs/ stay the single source of the shipped models,
the unit template and the default config; they are installed inside the kws package as
the data-only packages kws.shipped_models, kws.shipped_systemd and kws.shipped_configs (read
with importlib.resources through kws.shipped), so a wheel adds no top-level names to
site-packages besides kws.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {"kws.shipped_models": "models", "kws.shipped_systemd": "systemd", "kws.shipped_configs": "configs"}

setup(packages=find_packages(include=["kws", "kws.*"]) + list(DATA_PACKAGES), package_dir=DATA_PACKAGES)
