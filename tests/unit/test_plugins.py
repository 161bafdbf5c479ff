"""Loading variants: the built-ins, a user's module:attr, and clear errors for bad plug-ins."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamcompat import Variant, framed, raw
from streamcompat.servers.plugins import PluginError, load_variants


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


def test_the_public_api_is_the_package_itself() -> None:
    import streamcompat
    from streamcompat.harness.kernel import model
    from streamcompat.servers import framings

    assert streamcompat.Variant is model.Variant and streamcompat.framed is framings.framed
    assert all(hasattr(streamcompat, name) for name in streamcompat.__all__)
    with pytest.raises(AttributeError):
        _ = streamcompat.no_such_name


def test_a_plugin_on_the_old_top_level_names_gets_one_line_saying_what_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project has a servers/ package of its own, as many LLM apps do.
    (tmp_path / "servers").mkdir()
    (tmp_path / "servers" / "__init__.py").write_text("ROUTES = []\n")
    (tmp_path / "oldplug.py").write_text("from servers import Variant\nV = []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("servers", "oldplug"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(PluginError) as failed:
        load_variants(["oldplug:V"])
    message = str(failed.value)
    assert "\n" not in message
    assert "from streamcompat import Variant" in message and "oldplug" in message
