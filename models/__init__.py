"""Shipped models (installed as the ``kws_models`` package so that `kws` finds them by name)."""
