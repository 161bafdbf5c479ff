"""The Node host: one node process serves a run's cells, fails only the cells it must,
answers report barriers, and leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from aiohttp import web

from streamcompat.clients import npm, with_node
from streamcompat.harness.hosts.node_host import HOST_SCRIPT, NodeHost, NodeHub
from streamcompat.harness.kernel.model import Barrier, ClientFailed, NeverStops, Request, Resources
from tests.support.procs import alive, descendants
from tests.support.servers import serving, silent_server

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or npm.installed() is None,
    reason="needs node and `npm ci --prefix clients/node`",
)
STREAM = ["Hello", " wor", "ld"]
BOUND = 10.0  # every wait here says what it waits for and gives up after this


class Recorder(NeverStops):
    """A Reporter that keeps what it was told, and the barrier it was handed."""

    def __init__(self) -> None:
        self.protocol = ""
        self.requested = asyncio.Event()
        self.units: list[str] = []
        self.end_note: str | None = None
        self.barrier: Barrier | None = None

    def requesting(self, at: float | None = None) -> None:
        self.requested.set()

    def opened(self, status: int, content_type: str, at: float | None = None) -> None: ...

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self.units.append(payload)

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        self.end_note = note

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        self.protocol = protocol

    def barrier_via(self, barrier: Barrier) -> None:
        self.barrier = barrier


async def _no_browser() -> Any:
    raise AssertionError("Node clients need no browser")


def node_host_pids() -> set[int]:
    """The Node hosts running under this test process."""
    found = set()
    for pid in descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"node_host.mjs" in command and alive(pid):
            found.add(pid)
    return found


@asynccontextmanager
async def token_server() -> AsyncIterator[str]:
    """An origin with /sse (the tokens as SSE, then an end event) and /raw (as text)."""

    async def sse(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for token in STREAM:
            await response.write(f"data: {token}\n\n".encode())
        await response.write(b"event: end\ndata: \n\n")
        return response

    async def raw(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        for token in STREAM:
            await response.write(token.encode())
        return response

    app = web.Application()
    app.router.add_get("/sse", sse)
    app.router.add_get("/raw", raw)
    async with serving(app) as origin:
        yield origin


def _request(cell: str, url: str) -> Request:
    return Request(cell, url, "GET", {}, read_timeout=BOUND)


Drive = Callable[[Request, Recorder, Resources], Awaitable[None]]


def test_one_node_process_serves_many_cells_at_once() -> None:
    async def scenario() -> tuple[list[Recorder], set[int], set[int]]:
        served_by: set[int] = set()  # the host PID each cell got

        async with NodeHost() as host, token_server() as origin:

            async def node_host() -> NodeHub:
                hub = await host.hub()
                served_by.add(hub.process.pid)
                return hub

            resources = Resources(_no_browser, node_host=node_host)
            cells: list[tuple[Drive, str]] = [
                (with_node.fetch, "/raw"),
                (with_node.axios, "/raw"),
                (with_node.eventsource, "/sse"),
            ] * 3
            recorders = [Recorder() for _ in cells]
            plays = (
                drive(_request(f"cell-{i}", origin + path), recorders[i], resources)
                for i, (drive, path) in enumerate(cells)
            )
            await asyncio.wait_for(asyncio.gather(*plays), BOUND)
            return recorders, served_by, node_host_pids()

    recorders, served_by, running = asyncio.run(scenario())
    assert len(served_by) == 1 and running == served_by, "one Node host should serve every cell"
    for recorder in recorders:
        assert "".join(recorder.units) == "".join(STREAM)
        assert recorder.end_note is not None
    assert [r.units for r in recorders[2::3]] == [STREAM] * 3  # EventSource: an event each


def test_a_killed_host_fails_its_running_cell_and_the_next_cell_gets_a_new_one() -> None:
    async def scenario() -> tuple[str, list[str], int, int]:
        async with NodeHost() as host, silent_server() as (url, _), token_server() as origin:
            resources = Resources(_no_browser, node_host=host.hub)
            recorder = Recorder()
            cell = asyncio.ensure_future(with_node.fetch(_request("a", url), recorder, resources))
            await asyncio.wait_for(recorder.requested.wait(), BOUND)
            first = (await host.hub()).process.pid
            os.kill(first, signal.SIGKILL)
            with pytest.raises(ClientFailed) as failed:
                await asyncio.wait_for(cell, BOUND)
            later = Recorder()
            await asyncio.wait_for(
                with_node.fetch(_request("b", origin + "/raw"), later, resources), BOUND
            )
            return str(failed.value), later.units, first, (await host.hub()).process.pid

    why, units, first, second = asyncio.run(scenario())
    assert why.startswith("the Node host died (killed by SIGKILL)"), why
    assert "".join(units) == "".join(STREAM)
    assert second != first and not alive(first)


def test_a_host_that_exits_fails_its_cell_with_its_stderr(tmp_path: Path) -> None:
    script = tmp_path / "exits.js"
    script.write_text(
        dedent("""\
            globalThis.exits = () => {
              process.stderr.write("Error: the host broke\\n");
              process.exit(3);
            };
        """)
    )

    async def scenario() -> str:
        async with NodeHost() as host:
            hub = await host.hub()
            with pytest.raises(ClientFailed) as failed:
                await hub.run(script, "exits", _request("a", "http://127.0.0.1:9/"), Recorder())
            return str(failed.value)

    assert asyncio.run(scenario()) == "the Node host died (exit 3): Error: the host broke"


def test_a_stray_error_is_its_own_cells_and_the_others_go_on(tmp_path: Path) -> None:
    script = tmp_path / "throws_later.js"
    script.write_text(
        dedent("""\
            globalThis.throwsLater = (cfg, report) => new Promise(() => {
              report({ kind: "request" });
              setTimeout(() => { throw new Error("thrown outside the cell function"); }, 0);
            });
        """)
    )

    async def scenario() -> tuple[str, list[str], int, int]:
        async with NodeHost() as host, token_server() as origin:
            hub = await host.hub()
            resources = Resources(_no_browser, node_host=host.hub)
            other = Recorder()
            sibling = asyncio.ensure_future(
                with_node.eventsource(_request("b", origin + "/sse"), other, resources)
            )
            with pytest.raises(ClientFailed) as failed:
                await asyncio.wait_for(
                    hub.run(script, "throwsLater", _request("a", origin), Recorder()), BOUND
                )
            await asyncio.wait_for(sibling, BOUND)
            return str(failed.value), other.units, hub.process.pid, (await host.hub()).process.pid

    why, units, before, after = asyncio.run(scenario())
    assert why == "thrown outside the cell function"
    assert units == STREAM and before == after


def _queues_on_barrier(tmp_path: Path) -> Path:
    """A cell that queues 100 units in the very task in which the host reads a barrier.

    Its stdin listener runs just before the host's: the units are not flushed yet when
    the barrier is taken, so only the barrier can put them out before its answer.
    """
    script = tmp_path / "queues.js"
    script.write_text(
        dedent("""\
            globalThis.queuesOnBarrier = (cfg, report, signal) => new Promise((resolve) => {
              report({ kind: "request" });
              const queue = (chunk) => {
                if (!String(chunk).includes('"barrier"')) return;
                for (let i = 0; i < 100; i++) report({ kind: "unit", payload: `${i},` });
              };
              process.stdin.prependListener("data", queue);
              signal.addEventListener("abort", () => {
                process.stdin.off("data", queue);
                resolve();
              });
            });
        """)
    )
    return script


QUEUED = "".join(f"{i}," for i in range(100))


def test_the_host_answers_a_barrier_after_the_reports_queued_before_it(tmp_path: Path) -> None:
    script = _queues_on_barrier(tmp_path)
    start = {
        "op": "start",
        "cell": "a",
        "script": str(script),
        "function": "queuesOnBarrier",
        "cfg": {"url": "http://127.0.0.1:9/"},
    }

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        process = await asyncio.create_subprocess_exec(
            "node", str(HOST_SCRIPT),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdin and process.stdout
        try:
            process.stdin.write(json.dumps(start).encode() + b"\n")
            lines = [json.loads(await asyncio.wait_for(process.stdout.readline(), BOUND))]
            process.stdin.write(b'{"op": "barrier", "cell": "a", "id": 7}\n')
            while "barrier" not in lines[-1]:
                lines.append(json.loads(await asyncio.wait_for(process.stdout.readline(), BOUND)))
            process.stdin.close()  # the harness went away: the host ends by itself
            return lines, await asyncio.wait_for(process.wait(), BOUND)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    lines, code = asyncio.run(scenario())
    assert [m["kind"] for m in lines[0]["batch"]] == ["request"]
    units = [m["payload"] for line in lines[1:-1] for m in line["batch"] if m["kind"] == "unit"]
    assert "".join(units) == QUEUED, "the barrier was answered before the reports queued before it"
    answer = lines[-1]
    assert {k: v for k, v in answer.items() if k != "t"} == {"cell": "a", "barrier": 7}
    assert code == 0
    # ... stamped by the host's own clock when it took the barrier (epoch ms).
    assert abs(answer["t"] / 1000 - time.time()) < BOUND


def test_barrier_returns_once_reports_queued_before_it_are_delivered(tmp_path: Path) -> None:
    script = _queues_on_barrier(tmp_path)

    async def scenario() -> tuple[str, str, bool]:
        async with NodeHost() as host:
            hub = await host.hub()
            recorder = Recorder()
            request = _request("a", "http://127.0.0.1:9/")
            cell = asyncio.ensure_future(hub.run(script, "queuesOnBarrier", request, recorder))
            await asyncio.wait_for(recorder.requested.wait(), BOUND)
            assert recorder.barrier is not None
            before = "".join(recorder.units)
            asked = time.monotonic()
            lead = await asyncio.wait_for(recorder.barrier(), BOUND)
            # The host's stamp, mapped onto the harness's clock, fell between the asking
            # and the answer: it reads ahead of the answer's arrival by at most its 1 ms
            # resolution, and behind it by at most the round trip.
            assert lead is not None and -(time.monotonic() - asked) - 0.001 <= lead <= 0.001
            running = not cell.done()  # the barrier did not need the cell to end
            cell.cancel()
            await asyncio.wait({cell}, timeout=BOUND)
            return before, "".join(recorder.units), running

    before, after, running = asyncio.run(scenario())
    assert before == "" and after == QUEUED and running


def test_barrier_of_an_ended_cell_returns_at_once() -> None:
    async def scenario() -> None:
        async with NodeHost() as host, token_server() as origin:
            recorder = Recorder()
            resources = Resources(_no_browser, node_host=host.hub)
            await with_node.fetch(_request("a", origin + "/raw"), recorder, resources)
            assert recorder.barrier is not None
            await asyncio.wait_for(recorder.barrier(), BOUND)

    asyncio.run(scenario())


def test_no_node_process_is_left_after_the_host_ends() -> None:
    async def scenario() -> set[int]:
        async with NodeHost() as host, token_server() as origin:
            resources = Resources(_no_browser, node_host=host.hub)
            await with_node.fetch(_request("a", origin + "/raw"), Recorder(), resources)
            return node_host_pids()

    pids = asyncio.run(scenario())
    assert len(pids) == 1
    assert not [p for p in pids if alive(p)] and not node_host_pids()
