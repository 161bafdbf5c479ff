"""The keep-alive scenario under every server (``--server all``), raw and sse, with the
clients that keep a connection (the Python byte and SSE clients, curl, a page's fetch and
EventSource), pinned to ``compat-servers-keep-alive-baseline.json`` (three runs, the same
140 verdicts); and what its cells' figures show of Nagle's algorithm.

On a reused connection the client is in Linux's interactive ("pingpong") mode and delays
its ACK (~40 ms); a server that leaves Nagle's algorithm on (``uvicorn-fd``: asyncio takes
an ``--fd`` socket for AF_UNIX and sets no TCP_NODELAY) holds its first small write after
the head until that ACK. The ACK timer's firing ends pingpong mode, so the hold comes once
per response: token 1 surfaces ~40 ms after it was produced, the tokens after it at once.
The figures say so (each stream's token-1 lag, ``lag_ms_p99``), ``lag_ms_p50`` does not
move, and every verdict stays the one under uvicorn: lag is not buffering.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import DEFAULT_SERVER, Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support.pinned import by_key, check_pinned, pins, run_pinned

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-servers-keep-alive-baseline.json"
BASELINE = pins(FILE)
CLIENTS = sorted({Cell.from_key(k).client for k in BASELINE})
MISSING = servers_unavailable(list(SERVERS))
#: TCP_NODELAY on each server's socket as the app can read it (None: the server keeps its
#: socket to itself); measured, three runs.
NODELAY = {
    "uvicorn": True,
    "uvicorn-workers": True,  # uvicorn 0.55 sets it: Kludex/uvicorn#3149 is not seen here
    "gunicorn-uvicorn": True,
    "uvicorn-fd": False,
    "hypercorn": None,
    "granian": None,
    "daphne": None,
}
#: The delayed ACK Nagle's algorithm waits for is 40 ms at least (Linux's TCP_ATO_MIN),
#: less the moments between the head and token 1; loopback costs well under a millisecond.
NAGLE_MS = 25.0


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = run_pinned(
        tmp_path_factory, FILE, "--server", "all", "--variant", "raw,sse",
        "--scenario", "keep-alive", "--clients", ",".join(CLIENTS),
    )  # fmt: skip
    return {"cells": cells, "by_key": by_key(cells)}


def _passed(index: dict[str, Any], server: str) -> list[dict[str, Any]]:
    if server in MISSING:
        pytest.skip(f"{server}: {MISSING[server]}")
    cells = [c for c in index["cells"] if c["server"] == server and c["verdict"] == "PASS"]
    assert len(cells) >= 8, f"{server}: {len(cells)} PASS cells"
    return cells


def _first_token_lag(cell: dict[str, Any]) -> float:
    """How long after the server produced token 1 the client surfaced it, by its clock."""
    return float(cell["surfaced_ms"][0] - cell["emitted_ms"][0])


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_keep_alive_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    check_pinned(index["by_key"], key, BASELINE, MISSING)


def test_every_stream_went_on_its_first_requests_connection(index: dict[str, Any]) -> None:
    """Not assumed: the server saw both requests come from one client port (a cell whose
    client refused the response may leave before a relay records its stream request)."""
    assert "UNSUPPORTED" not in BASELINE.values()  # every client here keeps its connection
    for c in index["cells"]:
        if c["server"] in MISSING:
            continue
        ports = {x["request"]: x["port"] for x in c["connections"]}
        assert ports.get("first"), c["detail"]
        if c["verdict"] != "ERROR" or "stream" in ports:
            assert ports["first"] == ports.get("stream"), c["detail"]


@pytest.mark.parametrize("server", sorted(NODELAY))
def test_each_servers_socket_says_whether_nagle_is_off(index: dict[str, Any], server: str) -> None:
    said = {x["nodelay"] for c in _passed(index, server) for x in c["connections"]}
    assert said == {NODELAY[server]}


def test_no_verdict_changes_under_a_nagle_afflicted_server() -> None:
    """Lag is not buffering: the verdicts under uvicorn-fd (and every other) are uvicorn's."""
    for key, verdict in BASELINE.items():
        cell = Cell.from_key(key)
        ours = Cell(cell.variant, cell.client, cell.network, cell.scenario).key
        assert BASELINE[ours] == verdict, key


def test_nagle_holds_the_first_token_of_each_response_on_a_reused_connection(
    index: dict[str, Any],
) -> None:
    afflicted = _passed(index, "uvicorn-fd")
    fine = _passed(index, DEFAULT_SERVER)
    held = statistics.median(map(_first_token_lag, afflicted))
    quick = statistics.median(map(_first_token_lag, fine))
    assert held >= NAGLE_MS and held - quick >= NAGLE_MS - 5, (held, quick)
    # Its figures show it: the most any token took (p99 of 30 tokens is the most) ...
    assert statistics.median(c["lag_ms_p99"] for c in afflicted) >= NAGLE_MS
    # ... but not the median token: the ACK timer's firing ended the client's pingpong
    # mode, its ACKs come at once after it, and Nagle has nothing more to hold.
    assert statistics.median(c["lag_ms_p50"] for c in afflicted) < NAGLE_MS / 2
    # The cell says so: with TCP_NODELAY off, its detail names its most-lagged token.
    named = [c for c in afflicted if "TCP_NODELAY off; the most lag: token 1, " in c["detail"]]
    assert len(named) * 2 > len(afflicted), [c["detail"] for c in afflicted]
