"""Package discovery (metadata is in pyproject.toml).

Every package under kws/ is found, so a new subpackage cannot be left out of a wheel.  The
top-level folders models/, systemd/ and configs/ stay the single source of the shipped models,
the unit template and the default config; they are installed as the data-only packages
kws_models, kws_systemd and kws_configs (read with importlib.resources).
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {"kws_models": "models", "kws_systemd": "systemd", "kws_configs": "configs"}

setup(packages=find_packages(include=["kws", "kws.*"]) + list(DATA_PACKAGES), package_dir=DATA_PACKAGES)
