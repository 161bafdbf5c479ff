"""The abort and error scenarios under every server (``--server all``), raw and sse, with
the byte clients and curl, pinned to ``compat-servers-scenarios-baseline.json`` (measured
twice, the same 168 verdicts): every server notices a client that leaves and its model run
is cancelled (STOPPED); every server but daphne breaks off a response whose chain failed
(TOLD); daphne leaves it open, and its clients wait for their deadline (TIMEOUT)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-servers-scenarios-baseline.json"
BASELINE = json.loads((ROOT / FILE).read_text(encoding="utf-8"))["cells"]
CLIENTS = sorted({Cell.from_key(k).client for k in BASELINE})
MISSING = servers_unavailable(list(SERVERS))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--server", "all",
         "--variant", "raw,sse", "--scenario", "abort,error", "--clients", ",".join(CLIENTS),
         "--baseline", FILE],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_server_scenario_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    server = Cell.from_key(key).server
    if server in MISSING:
        pytest.skip(f"{server}: {MISSING[server]}")
    found = {
        Cell(c["variant"], c["client"], c["network"], c["scenario"], c["server"]).key: c
        for c in index["cells"]
    }
    c = found.get(key)
    assert c is not None, f"{key} was not run"
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"


def test_daphne_leaves_a_failed_stream_open_and_the_others_break_it_off() -> None:
    raw_error = {Cell.from_key(k).server: v for k, v in BASELINE.items()
                 if k.startswith("raw") and k.endswith("× error")}  # fmt: skip
    assert {s for s, v in raw_error.items() if v == "TIMEOUT"} == {"daphne"}
    assert {v for s, v in raw_error.items() if s != "daphne"} == {"TOLD"}
    raw_abort = {v for k, v in BASELINE.items() if k.startswith("raw") and k.endswith("× abort")}
    assert raw_abort == {"STOPPED"}
