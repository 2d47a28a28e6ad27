"""Installed as the ``kws_configs`` package so that a wheel carries default.yaml (kws.daemon.install)."""
