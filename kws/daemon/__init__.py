"""Running ``kws listen`` for months: systemd notify/watchdog, signals, reload, metrics, logs."""
