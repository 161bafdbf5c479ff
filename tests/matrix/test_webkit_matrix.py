"""The browser clients in WebKit (``--clients webkit``: WebKitGTK's MiniBrowser under Xvfb)
on the built-in variants, direct and split, run for real and pinned cell by cell to
``compat-webkit-baseline.json``; where WebKit's verdict differs from Chromium's
(``compat-baseline.json``), the difference is named here with its cause. Skipped, saying
what to install, where WebKitGTK's WebDriver or Xvfb is absent."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from streamcompat.clients import WEBKIT_CLIENTS
from streamcompat.harness.hosts.webkit import missing
from streamcompat.harness.kernel.model import Cell
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-webkit-baseline.json").read_text(encoding="utf-8"))["cells"]
CHROMIUM = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
NETWORKS = ("direct", "split")
#: Chromium sniffs a text/plain response (up to 1 KiB, or the end) before an XHR sees it;
#: WebKit does not (as Firefox): its XHR and axios' onDownloadProgress show a plain text
#: stream as it comes.
NOT_SNIFFED = {
    f"{variant} × {client} × {network}": ("BUFFERED", "PASS")
    for variant in ("raw", "gzip")  # the text/plain variants
    for client in ("webkit-xhr", "webkit-axios-progress")
    for network in NETWORKS
}
#: WebKit's EventSource keeps a UTF-8 BOM that reaches it in two reads (EF | BB BF, or
#: EF BB | BF) as text, so the first line's field is "\ufeffdata": the first event is lost
#: (seen every time with the pieces 50 ms apart; Chromium and Firefox drop the BOM).
#: The split network writes the pieces back to back: WebKit's network process reads them
#: apart (CORRUPT: five of six runs here) or, under load, together (PASS: three of three
#: runs with a busy loop per core). Pinned CORRUPT: the gate takes a PASS as an improvement.
BOM_SPLIT = "sse-bom × webkit-eventsource × split"
READS_RACE = {BOM_SPLIT: {"CORRUPT", "PASS"}}
CLOSED_AT_THE_MARKER = {"webkit-eventsource", "webkit-fetch-sse", "webkit-fetch-event-source"}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if why := missing():
        pytest.skip(why)
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--clients", "webkit",
         "--baseline", "compat-webkit-baseline.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_webkit_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    wanted = Cell.from_key(key)
    found = [c for c in index["cells"] if Cell(c["variant"], c["client"], c["network"]) == wanted]
    assert found, f"{key} was not run"
    c = found[0]
    allowed = READS_RACE.get(key, {BASELINE[key]})
    assert c["verdict"] in allowed, f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"
    # Said by WebKit's own resource timing: of every request read to its end; of one the
    # client closes at the end marker, only at times (EventSource: never).
    assert c["protocol"] in {"http/1.1", None}
    if c["verdict"] != "UNSUPPORTED" and c["client"] not in CLOSED_AT_THE_MARKER:
        assert c["protocol"] == "http/1.1"


def test_the_run_names_the_webkit_it_ran(index: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", index["run"]["versions"]["webkit"])


def test_the_baseline_pins_every_builtin_variant_and_webkit_column() -> None:
    from streamcompat.servers.variants import VARIANTS

    assert {Cell.from_key(k).network for k in BASELINE} == set(NETWORKS)
    assert {Cell.from_key(k).client for k in BASELINE} == {c.name for c in WEBKIT_CLIENTS}
    assert len(BASELINE) == len(VARIANTS) * len(WEBKIT_CLIENTS) * len(NETWORKS)


def test_webkit_differs_from_chromium_where_it_does_not_sniff_and_on_a_split_bom() -> None:
    differ = {}
    for key, verdict in BASELINE.items():
        variant, client, network = key.split(" × ")
        chromium = CHROMIUM[f"{variant} × {client.replace('webkit-', 'browser-', 1)} × {network}"]
        if chromium != verdict:
            differ[key] = (chromium, verdict)
    assert differ == {**NOT_SNIFFED, BOM_SPLIT: ("PASS", "CORRUPT")}
