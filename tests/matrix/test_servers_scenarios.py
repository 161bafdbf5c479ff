"""The abort and error scenarios under every server (``--server all``), pinned to
``compat-servers-scenarios-baseline.json``: raw and sse with the byte clients and curl
(measured twice, the same 168 verdicts), and sse with the SSE clients — httpx-sse,
sseclient-py, EventSource in Chromium and in Node, eventsource-parser (measured three
times, the same 70 verdicts). Every server notices a client that leaves, byte or SSE,
and its model run is cancelled (STOPPED: none LEAKs); every server but daphne breaks off
a response whose chain failed (TOLD, or TRUNCATED where EventSource cannot tell a failure
from an end); daphne leaves it open, and its clients wait for their deadline (TIMEOUT)."""

from __future__ import annotations

from typing import Any

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.servers import SERVERS
from tests.support.pinned import by_key, check_pinned, pins, run_pinned

pytestmark = pytest.mark.matrix  # a real run of a whole matrix: not a fast test

FILE = "compat-servers-scenarios-baseline.json"
BASELINE = pins(FILE)
MISSING = servers_unavailable(list(SERVERS))


def runs() -> dict[tuple[str, ...], list[str]]:
    """The baseline's clients grouped by the variants they are pinned on, one run each
    (the byte clients on raw and sse, the SSE clients on sse only: an SSE parser on a
    text/plain stream says nothing of the server)."""
    variants: dict[str, set[str]] = {}
    for key in BASELINE:
        cell = Cell.from_key(key)
        variants.setdefault(cell.client, set()).add(cell.variant)
    grouped: dict[tuple[str, ...], list[str]] = {}
    for client, names in sorted(variants.items()):
        grouped.setdefault(tuple(sorted(names)), []).append(client)
    return grouped


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells: list[Any] = []
    for variants, clients in runs().items():
        cells += run_pinned(
            tmp_path_factory, FILE, "--server", "all", "--variant", ",".join(variants),
            "--scenario", "abort,error", "--clients", ",".join(clients),
        )  # fmt: skip
    return by_key(cells)


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_server_scenario_cell_matches_baseline(found: dict[str, Any], key: str) -> None:
    check_pinned(found, key, BASELINE, MISSING)


def test_daphne_leaves_a_failed_stream_open_and_the_others_break_it_off() -> None:
    raw_error = {Cell.from_key(k).server: v for k, v in BASELINE.items()
                 if k.startswith("raw") and k.endswith("× error")}  # fmt: skip
    assert {s for s, v in raw_error.items() if v == "TIMEOUT"} == {"daphne"}
    assert {v for s, v in raw_error.items() if s != "daphne"} == {"TOLD"}
    raw_abort = {v for k, v in BASELINE.items() if k.startswith("raw") and k.endswith("× abort")}
    assert raw_abort == {"STOPPED"}


def test_every_server_stops_a_generation_whose_sse_client_left() -> None:
    sse_clients = {Cell.from_key(k).client for k in BASELINE} - {
        Cell.from_key(k).client for k in BASELINE if k.startswith("raw")
    }
    assert {"httpx-sse", "requests-sseclient", "browser-eventsource"} <= sse_clients
    abort = {k: v for k, v in BASELINE.items()
             if Cell.from_key(k).client in sse_clients and k.endswith("× abort")}  # fmt: skip
    asgi = {n for n, s in SERVERS.items() if s.interface == "asgi"}  # sse is a Starlette app
    assert {Cell.from_key(k).server for k in abort} == asgi
    assert set(abort.values()) == {"STOPPED"}
