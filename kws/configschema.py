"""Build dataclasses from YAML mappings, naming the exact key that is wrong.

Used by the runtime config (kws.config) and the training config alike, so that an
unknown key or a value of the wrong type is one clear line, never a TypeError trace.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from kws.errors import KwsError

_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a mapping"}


def _check_scalar(value, typ, key: str, where: str):
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is int and isinstance(value, bool):
        raise KwsError(f"{where}: key '{key}' must be {_TYPE_NAMES[typ]}, got {value!r}")
    if not isinstance(value, typ):
        raise KwsError(f"{where}: key '{key}' must be {_TYPE_NAMES.get(typ, typ.__name__)}, got {value!r}")
    return value


def load_dataclass(cls, data, where: str, prefix: str = ""):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KwsError(f"{where}: '{prefix.rstrip('.') or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise KwsError(f"{where}: unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in data.items():
        key = prefix + name
        typ = hints[name]
        allowed = [typ]
        optional = False
        if typing.get_origin(typ) in (typing.Union, types.UnionType):
            allowed = [a for a in typing.get_args(typ) if a is not type(None)]
            optional = len(allowed) < len(typing.get_args(typ))
        if value is None:
            if optional:
                kwargs[name] = None
                continue
            raise KwsError(f"{where}: key '{key}' must not be empty")
        if len(allowed) == 1 and dataclasses.is_dataclass(allowed[0]):
            kwargs[name] = load_dataclass(allowed[0], value, where, key + ".")
            continue
        bases = [typing.get_origin(a) or a for a in allowed]
        exact = [b for b in bases if isinstance(value, b) and not (b is int and isinstance(value, bool))]
        kwargs[name] = value if exact else _check_scalar(value, bases[0], key, where)
    try:
        return cls(**kwargs)
    except (ValueError, KwsError) as exc:
        raise KwsError(f"{where}: {prefix}{exc}") from None


def read_yaml(path, where: str, overrides: dict | None = None) -> dict:
    """A YAML mapping from ``path`` (or {} for None) with dotted-key overrides applied.

    An override of None leaves the file's value alone (a CLI flag that was not given)."""
    import yaml
    from pathlib import Path

    data = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise KwsError(f"{where}: no such file")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise KwsError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise KwsError(f"{where}: the top level must be a mapping")
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data
