"""Installed as the ``kws_systemd`` package so that a wheel carries the unit template (kws.daemon.install)."""
