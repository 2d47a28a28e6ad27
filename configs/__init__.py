"""Installed as the ``kws.shipped_configs`` package so that a wheel carries default.yaml (kws.daemon.install)."""
