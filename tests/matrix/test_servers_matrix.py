"""The raw and sse variants under every server (``--server all``): uvicorn as the variant
server itself, the others each running the relay app by its own command line, fed by the
gated fake upstream; run for real and pinned cell by cell to
``compat-servers-baseline.json`` (three runs, the same 560 verdicts; 672 with the SDK
clients since, two runs alike)."""

from __future__ import annotations

from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import DEFAULT_SERVER, Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support.pinned import by_key, check_pinned, pins, run_pinned

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-servers-baseline.json"
BASELINE = pins(FILE)
MISSING = servers_unavailable(list(SERVERS))


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return by_key(run_pinned(tmp_path_factory, FILE, "--server", "all", "--variant", "raw,sse"))


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_server_cell_matches_baseline(found: dict[str, Any], key: str) -> None:
    check_pinned(found, key, BASELINE, MISSING)


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
