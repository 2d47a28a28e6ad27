"""The ``kws`` command line (kws.cli.main) and what its subcommands share."""

from __future__ import annotations

import functools
import sys

import click

from kws.errors import KwsError


def fail_cleanly(func):
    """A KwsError becomes one line on stderr (``kws: error: …``) and exit code 2."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KwsError as exc:
            click.echo(f"kws: error: {exc}", err=True)
            sys.exit(2)
    return wrapper
