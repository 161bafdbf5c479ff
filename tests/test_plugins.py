"""Loading variants: the built-ins, a user's module:attr, and clear errors for bad plug-ins."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from harness.plugins import PluginError, load_variants
from servers import Variant, framed, raw


@pytest.fixture
def plugin_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("sc_test_plugin")
    module.ONE = framed("mine", "text/plain", raw)  # type: ignore[attr-defined]
    module.MANY = [framed("a", "text/plain", raw), framed("b", "text/plain", raw)]  # type: ignore[attr-defined]
    module.NOT_A_VARIANT = ["oops"]  # type: ignore[attr-defined]
    module.EMPTY = []  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_builtins() -> None:
    names = [v.name for v in load_variants(["builtin"])]
    assert names[:4] == ["raw", "raw-event-stream", "sse", "sse-json"]


def test_one_variant_or_a_list(plugin_module: types.ModuleType) -> None:
    assert [v.name for v in load_variants(["sc_test_plugin:ONE"])] == ["mine"]
    assert [v.name for v in load_variants(["sc_test_plugin:MANY"])] == ["a", "b"]
    assert all(isinstance(v, Variant) for v in load_variants(["sc_test_plugin:MANY"]))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", "expected 'module:attr'"),
        ("no_such_module_xyz:V", "cannot import no_such_module_xyz"),
        ("sc_test_plugin:MISSING", "has no attribute 'MISSING'"),
        ("sc_test_plugin:NOT_A_VARIANT", "'oops' is not a Variant"),
        ("sc_test_plugin:EMPTY", "non-empty list"),
    ],
)
def test_bad_specs_say_what_to_fix(
    plugin_module: types.ModuleType, spec: str, message: str
) -> None:
    with pytest.raises(PluginError, match=message):
        load_variants([spec])


def test_duplicate_names_are_refused(plugin_module: types.ModuleType) -> None:
    with pytest.raises(PluginError, match="repeated: mine"):
        load_variants(["sc_test_plugin:ONE", "sc_test_plugin:ONE"])
