"""``streamcompat run``'s options from a file, so that CI runs it with no flags.

Read from the current directory: ``[tool.streamcompat]`` in ``pyproject.toml``, else
``streamcompat.toml`` (its top level, or its own ``[tool.streamcompat]``). Keys are the
options' long names, with ``-`` or ``_``: ``app``, ``endpoint``, ``body``, ``codec``,
``clients``, ``network``, ``baseline``, ... Flags given on the command line win.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FILES = ("pyproject.toml", "streamcompat.toml")


class ConfigError(Exception):
    """The file cannot be used; the message says why, in one sentence."""


def find(directory: Path) -> tuple[dict[str, Any], Path | None]:
    """The options table and the file it came from (``{}, None``: there is none)."""
    for name in FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        tool = data.get("tool", {})
        table = tool.get("streamcompat") if isinstance(tool, dict) else None
        if table is None and name == "streamcompat.toml":
            table = {k: v for k, v in data.items() if k != "tool"}
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: [tool.streamcompat] must be a table")
            return table, path
    return {}, None


def apply(run: argparse.ArgumentParser, argv: list[str], directory: Path) -> str:
    """Make the file's options ``run``'s defaults; return the file's name ('' if none).

    An option given in ``argv`` takes nothing from the file: a list (``clients``, ...)
    would otherwise get the flags' values added to the file's.
    """
    table, path = find(directory)
    if path is None:
        return ""
    actions = {a.dest: a for a in run._actions if a.option_strings and a.dest != "help"}
    options = {str(key).replace("-", "_"): value for key, value in table.items()}
    unknown = sorted(key for key in table if str(key).replace("-", "_") not in actions)
    if unknown:
        known = ", ".join(sorted(d.replace("_", "-") for d in actions))
        raise ConfigError(
            f"{path}: unknown key(s) in [tool.streamcompat]: {', '.join(unknown)} (known: {known})"
        )
    flags = _flags(argv, [o for a in actions.values() for o in a.option_strings], run.allow_abbrev)
    given = {dest for dest, action in actions.items() if set(action.option_strings) & flags}
    defaults = {}
    for dest, value in options.items():
        if dest not in given:
            defaults[dest] = _value(path, actions[dest], value)
    run.set_defaults(**defaults)
    return str(path.name)


def _flags(argv: list[str], options: list[str], abbrev: bool) -> set[str]:
    """The options ``argv`` gives, as argparse reads them: ``--clients=x`` is ``--clients``,
    and so is ``--client x`` (a unique prefix), which argparse takes for it."""
    given: set[str] = set()
    for arg in argv:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if flag in options:
            given.add(flag)
        elif abbrev and len(found := [o for o in options if o.startswith(flag)]) == 1:
            given.add(found[0])
    return given


def _value(path: Path, action: argparse.Action, value: Any) -> Any:
    """``value`` as the flag would have given it, or ConfigError naming the key."""
    key = action.dest.replace("_", "-")
    if isinstance(action, argparse._AppendAction):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{path}: {key} must be a string or a list of strings")
        return list(items)
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: {key} must be true or false")
        return value
    if isinstance(value, (dict, list, bool)):
        raise ConfigError(f"{path}: {key} must be a single value, not {value!r}")
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{path}: {key} must be one of {', '.join(map(str, action.choices))}")
    if action.type is int and isinstance(value, float):
        raise ConfigError(f"{path}: {key} must be a whole number, not {value!r}")
    if action.type is Path and not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a path (a string), not {value!r}")
    convert = action.type if callable(action.type) else str
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None
