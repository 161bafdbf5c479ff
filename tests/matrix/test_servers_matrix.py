"""The raw and sse variants under every server (``--server all``): uvicorn as the variant
server itself, the others each running the relay app by its own command line, fed by the
gated fake upstream; run for real and pinned cell by cell to
``compat-servers-baseline.json`` (three runs, the same 560 verdicts; 672 with the SDK
clients since, two runs alike)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import DEFAULT_SERVER, Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-servers-baseline.json").read_text(encoding="utf-8"))["cells"]
MISSING = servers_unavailable(list(SERVERS))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), "--server", "all",
         "--variant", "raw,sse", "--baseline", "compat-servers-baseline.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    return data


def _cells(index: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        Cell(c["variant"], c["client"], c["network"], c["scenario"], c["server"]).key: c
        for c in index["cells"]
    }


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_server_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    server = Cell.from_key(key).server
    if server in MISSING:
        pytest.skip(f"{server}: {MISSING[server]}")
    c = _cells(index).get(key)
    assert c is not None, f"{key} was not run"
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"


ASGI = [name for name, record in SERVERS.items() if record.interface == "asgi"]


@pytest.mark.parametrize("server", [s for s in ASGI if s != DEFAULT_SERVER])
def test_no_server_changes_a_verdict_of_uvicorns(server: str) -> None:
    """Measured: raw and sse stream under every ASGI server as under uvicorn, for every
    client (a server that held tokens back would show BUFFERED where uvicorn's cell is
    PASS). WSGI servers run neither (Starlette's responses): their rows are the
    frameworks' (``test_frameworks_matrix``)."""
    theirs = {k: v for k, v in BASELINE.items() if Cell.from_key(k).server == server}
    assert theirs
    for key, verdict in theirs.items():
        cell = Cell.from_key(key)
        ours = Cell(cell.variant, cell.client, cell.network, cell.scenario).key
        assert BASELINE[ours] == verdict, key
