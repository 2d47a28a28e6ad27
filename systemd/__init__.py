"""Installed as the ``kws.shipped_systemd`` package so that a wheel carries the unit templates (kws.daemon.install)."""
