"""The httpx, httpx-sse, sseclient-py, OpenAI SDK and curl drivers, run for real.

The built-in variants through the runner (one server for every cell); the OpenAI SDK
against a stand-in for the variant server's ``/v/<name>/chat/completions`` route, in
lockstep; and curl's clean-up: not installed, refused, stalled, cancelled.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from streamcompat.clients import with_curl, with_httpx, with_openai, with_sseclient
from streamcompat.harness.engine.plan import Matrix, Settings
from streamcompat.harness.engine.runner import Stage, run_cell, run_matrix
from streamcompat.harness.kernel.model import (
    Cell,
    ClientFailed,
    NeverStops,
    Request,
    Resources,
    Result,
    Variant,
    Verdict,
)
from streamcompat.harness.kernel.server_record import ServerRecord
from streamcompat.harness.kernel.tokens import DEFAULT_TOKENS
from streamcompat.servers.chain import Gate
from streamcompat.servers.plugins import load_variants
from tests.support.procs import alive, descendants
from tests.support.servers import serving

CLIENTS = (
    with_httpx.CLIENT,
    with_httpx.SSE_CLIENT,
    with_sseclient.CLIENT,
    with_openai.CLIENT,
    with_curl.CLIENT,
)
P, C, S, E, U = Verdict.PASS, Verdict.CORRUPT, Verdict.SILENT, Verdict.ERROR, Verdict.UNSUPPORTED
EXPECTED = {  # variant: verdicts in the order of CLIENTS
    "raw": (P, E, S, U, P),  # httpx-sse refuses text/plain; sseclient parses it, finds nothing
    "raw-event-stream": (P, S, S, U, P),  # lanarky #121: no data: lines, no event
    "sse": (C, P, P, U, C),  # byte clients show the framing
    "sse-json": (C, P, P, U, C),
}


async def no_browser() -> Any:
    raise AssertionError("these clients need no browser")


RESOURCES = Resources(browser_context=no_browser)


@pytest.fixture(scope="module")
def matrix() -> dict[str, Result]:
    variants = [v for v in load_variants(["builtin"]) if v.name in EXPECTED]
    results, _ = asyncio.run(run_matrix(Matrix(variants, CLIENTS), ["builtin"], Settings()))
    return {r.cell.key: r for r in results}


@pytest.mark.matrix
@pytest.mark.parametrize(
    ("variant", "client", "verdict"),
    [(v, c.name, verdicts[i]) for v, verdicts in EXPECTED.items() for i, c in enumerate(CLIENTS)],
)
def test_builtin_variants(
    matrix: dict[str, Result], variant: str, client: str, verdict: Verdict
) -> None:
    result = matrix[Cell(variant, client).key]
    assert result.verdict == verdict, result.detail


# The OpenAI SDK, against a stand-in for the route the variant server must offer.


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [choice]}  # fmt: skip


class OpenAIStandIn:
    """``POST /v/<name>/chat/completions?stream=<id>``, gated, plus the runner's control calls."""

    def __init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        self.heads: dict[str, asyncio.Event] = {}
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        # The runner's view of a running server (harness.server.ServerLife): this one
        # never dies.
        self.dead, self.closed = asyncio.Event(), asyncio.Event()
        self.death = self.lost = ""

    async def running(self) -> OpenAIStandIn:
        return self

    def head(self, stream: str) -> asyncio.Event:
        return self.heads.setdefault(stream, asyncio.Event())

    def gate(self, stream: str) -> Gate:
        return self.gates.setdefault(stream, Gate())

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query), await request.json()))
        gate = self.gate(request.query["stream"])
        gate.started.set()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.head(request.query["stream"]).set()
        await response.write(_event({"choices": [], "prompt_filter_results": []}))  # Azure's
        await response.write(_event(_chunk({"role": "assistant", "content": ""})))
        for k, token in enumerate(DEFAULT_TOKENS, start=1):
            await gate.wait_for(k)
            gate.emitted_at.append(time.monotonic())
            await response.write(_event(_chunk({"content": token})))
        await response.write(_event(_chunk({}, "stop")) + b"data: [DONE]\n\n")
        return response

    def expect(self, stream: str) -> None:
        self.gate(stream)

    async def started(self, stream: str, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.gate(stream).started.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def release(self, stream: str, upto: int) -> None:
        self.gate(stream).release(upto)

    async def take(self, stream: str) -> ServerRecord:
        return ServerRecord(emitted_at=tuple(self.gates.pop(stream, Gate()).emitted_at))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(path: str, handler: Handler, method: str = "POST") -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1:<ephemeral>; yields its origin."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    async with serving(app) as origin:
        yield origin


def test_openai_sdk_reads_a_chat_completions_stream_in_lockstep() -> None:
    standin = OpenAIStandIn()
    variant = Variant("openai", lambda tokens: None, codec="openai", methods=frozenset({"POST"}))

    async def main() -> Result:
        async with serve("/v/{name}/chat/completions", standin.chat) as origin:
            server = cast(Any, standin)  # the runner only makes the control calls
            stage = Stage(server, RESOURCES, Settings(deadline=10.0))
            return await run_cell(
                Cell("openai", "openai"), variant, with_openai.CLIENT, origin, stage
            )

    result = asyncio.run(main())
    assert result.verdict == Verdict.PASS, result.detail
    [(path, query, body)] = standin.requests
    assert path == "/v/openai/chat/completions"
    assert set(query) == {"stream"} and body["stream"] is True  # the id is in the query
    assert body["messages"] == [{"role": "user", "content": "Say something that breaks clients."}]


def test_openai_client_reads_only_openai_streams_by_post() -> None:
    assert with_openai.CLIENT.codecs == frozenset({"openai"})
    assert with_openai.CLIENT.methods == frozenset({"POST"})


# curl: a clear error when it cannot run, and never left running.


class Recorder(NeverStops):
    """A Reporter that keeps what it was told, and the curl processes alive at each unit."""

    def __init__(self) -> None:
        self.protocol = ""
        self.status = 0
        self.units: list[str] = []
        self.end: str | None = None
        self.curls: set[int] = set()
        self.first_unit = asyncio.Event()

    def requesting(self, at: float | None = None) -> None:
        pass

    def opened(self, status: int, content_type: str, at: float | None = None) -> None:
        self.status = status

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self.units.append(payload)
        self.curls |= {p for p in descendants(os.getpid()) if _command(p) == "curl"}
        self.first_unit.set()

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        self.end = note

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        self.protocol = protocol

    def barrier_via(self, barrier: Any) -> None:
        pass  # reports arrive in order; nothing to wait for


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _request(url: str, read_timeout: float = 10.0) -> Request:
    return Request("c1", url, "POST", {"stream": "c1", "prompt": "hi"}, read_timeout)


def test_curl_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no curl on it
    with pytest.raises(ClientFailed, match="curl is not installed"):
        asyncio.run(with_curl.chunks(_request("http://127.0.0.1:9/"), Recorder(), RESOURCES))


def test_curl_refused_says_why() -> None:
    with pytest.raises(ClientFailed, match=r"curl: \(7\)"):  # couldn't connect
        asyncio.run(with_curl.chunks(_request("http://127.0.0.1:9/"), Recorder(), RESOURCES))


@pytest.mark.parametrize("how", ["read timeout", "cancelled"])
def test_curl_is_ended_when_the_stream_stalls(how: str) -> None:
    """A server that sends one piece and stalls: curl is killed by PID and reaped."""
    report = Recorder()

    async def main() -> None:
        stalled = asyncio.Event()

        async def stall(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            await response.write("Hello 中文".encode())
            await asyncio.wait_for(stalled.wait(), 30)  # bounded: set before the server ends
            return response

        async with serve("/stall", stall) as origin:
            request = _request(f"{origin}/stall", 0.5 if how == "read timeout" else 30.0)
            drive = asyncio.ensure_future(with_curl.chunks(request, report, RESOURCES))
            if how == "cancelled":
                await asyncio.wait_for(report.first_unit.wait(), 10)
                drive.cancel()
            with pytest.raises(ClientFailed if how == "read timeout" else asyncio.CancelledError):
                await asyncio.wait_for(drive, 10)
            stalled.set()

    asyncio.run(main())
    assert report.status == 200 and "".join(report.units) == "Hello 中文"
    assert report.curls, "curl should have been running while it surfaced"
    assert not [pid for pid in report.curls if alive(pid)], "curl was left running"
