"""Shipped models (installed as the ``kws.shipped_models`` package so that `kws` finds them by name)."""
