"""One exception type for every user-facing failure.

The CLI turns a KwsError into a single line on stderr and a non-zero exit code, so
its message must name the thing that is wrong (file, config key, model path).
"""


class KwsError(Exception):
    """A failure caused by input the user can fix (file, config, model, device)."""


class AudioFormatError(KwsError, ValueError):
    """Samples handed to the Python API in a shape or dtype it cannot take."""


def install_hint(extra: str) -> str:
    """How to add an optional extra, for a wheel install and for a checkout."""
    return f"pip install 'kws[{extra}]' (in a checkout: pip install -e '.[{extra}]')"
