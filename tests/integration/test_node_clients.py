"""The Node clients (fetch, eventsource, axios) and browser fetch + eventsource-parser.

They run for real, cell by cell as the runner plays them, on ``raw`` and ``sse``, the
Node ones in one Node host; a cancelled Node cell's request is aborted (its connection
closes) while the host goes on; a missing node or ``npm ci`` is a clear client error.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from streamcompat.clients import npm, with_node
from streamcompat.clients.browser_sse import BROWSER_FETCH_SSE
from streamcompat.clients.with_node import AXIOS, NODE_EVENTSOURCE, NODE_FETCH
from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.engine.runner import Stage, run_cell
from streamcompat.harness.engine.server import ServerProcess
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.node_host import NodeHost
from streamcompat.harness.kernel.model import (
    Cell,
    Client,
    ClientFailed,
    NeverStops,
    Request,
    Resources,
    Result,
)
from streamcompat.servers.plugins import load_variants
from tests.support.procs import alive
from tests.support.servers import silent_server

EXPECTED = {
    # Byte clients show raw streams as is and SSE framing as text.
    ("raw", "node-fetch"): "PASS",
    ("sse", "node-fetch"): "CORRUPT",
    ("raw", "axios"): "PASS",
    ("sse", "axios"): "CORRUPT",
    # SSE clients: EventSource refuses text/plain; a parser finds no event in it.
    ("raw", "node-eventsource"): "ERROR",
    ("sse", "node-eventsource"): "PASS",
    ("raw", "browser-fetch-sse"): "SILENT",
    ("sse", "browser-fetch-sse"): "PASS",
}


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], Result]:
    variants = {v.name: v for v in load_variants(["builtin"]) if v.name in {"raw", "sse"}}
    clients = {c.name: c for c in (NODE_FETCH, NODE_EVENTSOURCE, AXIOS, BROWSER_FETCH_SSE)}
    settings = Settings()

    async def run() -> list[Result]:
        async with ServerProcess(["builtin"]) as server, Browser() as browser, NodeHost() as node:
            resources = Resources(browser_context=browser.hub, node_host=node.hub)
            stage = Stage(server, resources, settings)

            async def play(variant: str, client: str) -> Result:
                cell, origin = Cell(variant, client), server.origin
                return await run_cell(cell, variants[variant], clients[client], origin, stage)

            return await asyncio.gather(*(play(v, c) for v, c in EXPECTED))

    return {(r.cell.variant, r.cell.client): r for r in asyncio.run(run())}


@pytest.mark.matrix
@pytest.mark.parametrize(("variant", "client"), sorted(EXPECTED))
def test_verdict(results: dict[tuple[str, str], Result], variant: str, client: str) -> None:
    result = results[variant, client]
    assert result.verdict.value == EXPECTED[variant, client], result.detail


class Recorder(NeverStops):
    """A Reporter that only notes that the request went out."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()

    def requesting(self, at: float | None = None) -> None:
        self.requested.set()

    def opened(self, status: int, content_type: str, at: float | None = None) -> None: ...

    def surfaced(self, payload: str, at: float | None = None) -> None: ...

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None: ...

    def spoke(self, protocol: str, sent_at: float | None = None) -> None: ...

    def barrier_via(self, barrier: Any) -> None:
        pass


async def _no_browser() -> Any:
    raise AssertionError("Node clients need no browser")


def _request(url: str) -> Request:
    return Request("cancel", url, "GET", {}, read_timeout=30)


@pytest.mark.parametrize("client", [NODE_FETCH, NODE_EVENTSOURCE, AXIOS], ids=lambda c: c.name)
def test_a_cancelled_cell_hangs_up_and_the_host_goes_on(client: Client) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        # A server that accepts and never answers: the client waits until it is cancelled.
        async with silent_server("/v/raw") as (url, hung_up), NodeHost() as node:
            recorder = Recorder()
            resources = Resources(_no_browser, node_host=node.hub)
            task = asyncio.ensure_future(client.drive(_request(url), recorder, resources))
            await asyncio.wait_for(recorder.requested.wait(), 10)
            host = (await node.hub()).process.pid
            task.cancel()
            await asyncio.wait({task}, timeout=5)  # as the runner does
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(hung_up.wait(), 10)
            return task.cancelled(), hung_up.is_set(), alive(host)

    cancelled, hung_up, host_alive = asyncio.run(scenario())
    assert cancelled
    assert hung_up, "the cancelled cell's request was not aborted"
    assert host_alive, "one cell's end must not end the Node host"


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)

    async def scenario() -> None:
        async with NodeHost() as node:
            resources = Resources(_no_browser, node_host=node.hub)
            await with_node.fetch(_request("http://127.0.0.1:9/"), Recorder(), resources)

    with pytest.raises(ClientFailed, match="node is not installed"):
        asyncio.run(scenario())


def test_missing_packages_say_to_run_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(npm, "HERE", tmp_path)  # no node_modules beside the scripts
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nor a per-user copy

    async def scenario() -> None:
        async with NodeHost() as node:
            resources = Resources(_no_browser, node_host=node.hub)
            await with_node.axios(_request("http://127.0.0.1:9/"), Recorder(), resources)

    with pytest.raises(ClientFailed, match=r"streamcompat setup"):
        asyncio.run(scenario())
