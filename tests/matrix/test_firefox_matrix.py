"""The browser clients in Firefox (``--clients firefox``) on the built-in variants, direct
and split, run for real and pinned cell by cell to ``compat-firefox-baseline.json``; where
Firefox's verdict differs from Chromium's (``compat-baseline.json``), the difference is
named here with its cause."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from streamcompat.clients import FIREFOX_CLIENTS
from streamcompat.harness.hosts.firefox import missing
from streamcompat.harness.kernel.model import Cell
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-firefox-baseline.json").read_text(encoding="utf-8"))["cells"]
CHROMIUM = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
NETWORKS = ("direct", "split")
#: Chromium sniffs a text/plain response (up to 1 KiB, or the end) before an XHR sees it;
#: Firefox does not: its XHR and axios' onDownloadProgress show a plain text stream as it
#: comes. Every other cell is Chromium's verdict.
NOT_SNIFFED = {
    f"{variant} × {client} × {network}": ("BUFFERED", "PASS")
    for variant in ("raw", "gzip")  # the text/plain variants
    for client in ("firefox-xhr", "firefox-axios-progress")
    for network in NETWORKS
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if why := missing():
        pytest.skip(why)
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--clients", "firefox",
         "--baseline", "compat-firefox-baseline.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_firefox_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    wanted = Cell.from_key(key)
    found = [c for c in index["cells"] if Cell(c["variant"], c["client"], c["network"]) == wanted]
    assert found, f"{key} was not run"
    c = found[0]
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"
    if c["verdict"] != "UNSUPPORTED":  # a request not made has no protocol
        assert c["protocol"] == "http/1.1"  # said by Firefox's own resource timing


def test_the_run_names_the_firefox_it_ran(index: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", index["run"]["versions"]["firefox"])


def test_the_baseline_pins_every_builtin_variant_and_firefox_column() -> None:
    from streamcompat.servers.variants import VARIANTS

    assert {Cell.from_key(k).network for k in BASELINE} == set(NETWORKS)
    assert {Cell.from_key(k).client for k in BASELINE} == {c.name for c in FIREFOX_CLIENTS}
    assert len(BASELINE) == len(VARIANTS) * len(FIREFOX_CLIENTS) * len(NETWORKS)


def test_firefox_differs_from_chromium_only_where_it_does_not_sniff() -> None:
    differ = {}
    for key, verdict in BASELINE.items():
        variant, client, network = key.split(" × ")
        chromium = CHROMIUM[f"{variant} × {client.replace('firefox-', 'browser-', 1)} × {network}"]
        if chromium != verdict:
            differ[key] = (chromium, verdict)
    assert differ == NOT_SNIFFED
