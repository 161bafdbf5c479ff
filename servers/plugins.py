"""Loading variants by name: the built-ins, or a user's ``module:attr``."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

from streamcompat.harness.kernel.model import Variant

BUILTIN = "builtin"
#: The top-level packages plug-ins imported before the tool became one package.
OLD_PACKAGES = frozenset({"harness", "servers", "clients"})


class PluginError(Exception):
    """A variant spec that cannot be loaded; the message says what to fix."""


def load_variants(specs: Iterable[str]) -> list[Variant]:
    """Variants for specs such as ``builtin`` or ``mypkg.streaming:VARIANTS``."""
    variants: list[Variant] = []
    for spec in specs:
        variants.extend(_load(spec))
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PluginError(f"variant names must be unique; repeated: {', '.join(duplicates)}")
    return variants


def _load(spec: str) -> list[Variant]:
    if spec == BUILTIN:
        from streamcompat.servers.variants import VARIANTS

        return list(VARIANTS)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{spec!r}: expected 'module:attr' (e.g. mypkg.streaming:VARIANTS)")
    if os.getcwd() not in sys.path:
        # As `python -m` would: a user's package in the directory they run from.
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # no such module, or the project's own servers/ instead
        if (exc.name or "").partition(".")[0] in OLD_PACKAGES:
            raise PluginError(
                f"{spec!r}: {module_name} imports {exc.name}, which is now "
                f"streamcompat.{exc.name}: write `from streamcompat import Variant, framed` "
                f"(or `streamcompat.{exc.name}`)"
            ) from exc
        raise PluginError(f"{spec!r}: cannot import {module_name}: {exc!r}") from exc
    except Exception as exc:  # any import-time failure is the plug-in's, reported plainly
        raise PluginError(f"{spec!r}: cannot import {module_name}: {exc!r}") from exc
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise PluginError(f"{spec!r}: module {module_name} has no attribute {attr!r}") from None
    found = [value] if isinstance(value, Variant) else value
    if not isinstance(found, (list, tuple)) or not found:
        raise PluginError(f"{spec!r}: expected a Variant or a non-empty list of Variants")
    for item in found:
        if not isinstance(item, Variant):
            raise PluginError(
                f"{spec!r}: {item!r} is not a Variant (build it with streamcompat.Variant "
                "or streamcompat.framed)"
            )
    return list(found)
