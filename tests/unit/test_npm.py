"""The clients' npm packages outside a checkout: a per-user copy, installed once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from streamcompat.clients import browser_fetch_event_source, npm, with_node
from streamcompat.clients.browser_sse import BROWSER_FETCH_SSE
from streamcompat.harness import cli
from streamcompat.harness.kernel.model import ClientFailed

# Stands in for npm: `npm ci --prefix DIR ...` makes DIR/node_modules, and says so.
FAKE_NPM = """#!/bin/sh
while [ "$1" != "--prefix" ]; do shift; done
mkdir -p "$2/node_modules/eventsource-parser/dist" && echo "ok" > "$2/installed-by-fake-npm"
"""


@pytest.fixture
def outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clients' scripts as an installed package has them: no node_modules beside them."""
    package = tmp_path / "site-packages" / "clients"
    shutil.copytree(npm.HERE, package, ignore=shutil.ignore_patterns("node_modules", "*.py*"))
    monkeypatch.setattr(npm, "HERE", package)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return package


def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_checkouts_own_packages_are_used_where_they_are() -> None:
    if not (npm.HERE / "node" / "node_modules").is_dir():
        pytest.skip("run `npm ci --prefix clients/node`")
    assert npm.installed() == npm.HERE


def test_setup_installs_a_per_user_copy_once_and_the_clients_use_it(
    outside_a_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert npm.installed() is None
    fake_npm(tmp_path, monkeypatch)
    copy = npm.install()
    assert copy.parent == tmp_path / "cache" / "streamcompat"
    assert (copy / "node" / "installed-by-fake-npm").is_file()
    # The scripts run from the copy, beside their packages, as they are in the package.
    for script in ("fetch.js", "eventsource.js", "node/eventsource.mjs", "node/axios.mjs"):
        assert (copy / script).read_bytes() == (outside_a_checkout / script).read_bytes()
    assert npm.installed() == copy and npm.install() == copy  # once
    # A changed pin is another copy: an upgrade never runs against stale packages.
    lock = outside_a_checkout / "node" / "package-lock.json"
    lock.write_text(lock.read_text() + " ")
    assert npm.installed() is None


def test_without_npm_the_clients_are_skipped_with_the_reason_not_errors(
    outside_a_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm, no node, no curl
    with pytest.raises(npm.SetupFailed, match="npm is not installed"):
        npm.install()
    skipped = cli.unavailable([BROWSER_FETCH_SSE, with_node.NODE_EVENTSOURCE])
    assert skipped[BROWSER_FETCH_SSE.name].startswith("npm packages not installed")
    assert skipped[with_node.NODE_EVENTSOURCE.name] == "node not installed"


def test_the_first_run_installs_them_saying_so(
    outside_a_checkout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_npm(tmp_path, monkeypatch)
    assert cli.unavailable([BROWSER_FETCH_SSE]) == {}
    assert "installing the clients' npm packages" in capsys.readouterr().err
    assert npm.installed() is not None


def test_a_page_module_missing_from_the_packages_says_to_run_setup(
    outside_a_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Packages installed before a module was pinned (or its bundle failed): the client
    # says what to run, it does not fail in the page.
    fake_npm(tmp_path, monkeypatch)
    copy = npm.install()
    parser = Path("node", "node_modules", "eventsource-parser", "dist", "index.js")
    (copy / parser).write_text("export {};\n")
    assert npm.page_module(parser, "eventsource-parser") == copy / parser
    bundle = browser_fetch_event_source.BUNDLE
    with pytest.raises(
        ClientFailed,
        match=r"@microsoft/fetch-event-source is not installed: run `streamcompat setup`",
    ):
        npm.page_module(bundle, "@microsoft/fetch-event-source")
