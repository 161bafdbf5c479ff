"""The Node clients (fetch, eventsource, axios) and browser fetch + eventsource-parser.

They run for real through the runner on ``raw`` and ``sse``; a cancelled Node cell
leaves no node process; a missing node or ``npm ci`` is a clear client error.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from clients import with_node
from clients.browser_sse import BROWSER_FETCH_SSE
from clients.with_node import AXIOS, NODE_EVENTSOURCE, NODE_FETCH
from harness.model import Client, ClientFailed, Request, Resources, Result
from harness.plugins import load_variants
from harness.runner import Matrix, Settings, run_matrix
from tests.conftest import alive, descendants

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
    variants = [v for v in load_variants(["builtin"]) if v.name in {"raw", "sse"}]
    matrix = Matrix(variants, [NODE_FETCH, NODE_EVENTSOURCE, AXIOS, BROWSER_FETCH_SSE])
    found, _ = asyncio.run(run_matrix(matrix, ["builtin"], Settings()))
    return {(r.cell.variant, r.cell.client): r for r in found}


@pytest.mark.matrix
@pytest.mark.parametrize(("variant", "client"), sorted(EXPECTED))
def test_verdict(results: dict[tuple[str, str], Result], variant: str, client: str) -> None:
    result = results[variant, client]
    assert result.verdict.value == EXPECTED[variant, client], result.detail


class Recorder:
    """A Reporter that only notes that the request went out."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()

    def requesting(self, at: float | None = None) -> None:
        self.requested.set()

    def opened(self, status: int, content_type: str, at: float | None = None) -> None: ...

    def surfaced(self, payload: str, at: float | None = None) -> None: ...

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None: ...

    def barrier_via(self, barrier: Any) -> None:
        pass  # reports arrive in order; nothing to wait for


async def _no_browser() -> Any:
    raise AssertionError("Node clients need no browser")


def _request(url: str) -> Request:
    return Request("cancel", url, "GET", {}, read_timeout=30)


def _node_processes() -> set[int]:
    found = set()
    for pid in descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"clients/node/" in command:
            found.add(pid)
    return found


@pytest.mark.parametrize("client", [NODE_FETCH, NODE_EVENTSOURCE, AXIOS], ids=lambda c: c.name)
def test_cancelled_cell_leaves_no_node(client: Client) -> None:
    async def scenario() -> tuple[set[int], list[int]]:
        # A server that accepts and never answers: the client waits until it is cancelled
        # (closing the connection would let node end by itself, so it stays open throughout).
        held: list[asyncio.StreamWriter] = []
        server = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v/raw"
        recorder = Recorder()
        task = asyncio.ensure_future(client.drive(_request(url), recorder, Resources(_no_browser)))
        try:
            await asyncio.wait_for(recorder.requested.wait(), 10)
            pids = _node_processes()
            task.cancel()
            await asyncio.wait({task}, timeout=5)  # as the runner does
            assert task.cancelled()
            return pids, [p for p in pids if alive(p)]
        finally:
            for writer in held:
                writer.close()
            server.close()

    pids, left = asyncio.run(scenario())
    assert pids, "the cell should have run a node process"
    assert not left, "a cancelled cell left node running"


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ClientFailed, match="node is not installed"):
        asyncio.run(
            with_node.fetch(_request("http://127.0.0.1:9/"), Recorder(), Resources(_no_browser))
        )


def test_missing_packages_say_to_run_npm_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(with_node, "NODE_DIR", tmp_path)
    with pytest.raises(ClientFailed, match=r"npm ci --prefix clients/node"):
        asyncio.run(
            with_node.axios(_request("http://127.0.0.1:9/"), Recorder(), Resources(_no_browser))
        )
