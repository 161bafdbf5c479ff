"""The runner: iterate the cells, play each in lockstep, record a result per cell.

The matrix is data (variants, clients, networks); this module only iterates and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from harness.browser import Browser
from harness.codecs import Display
from harness.lockstep import Lockstep
from harness.model import (
    Cell,
    Client,
    ClientFailed,
    Facts,
    Request,
    Resources,
    Result,
    Variant,
)
from harness.node_host import NodeHost
from harness.processes import end, loopback_listener, spawn
from harness.server import ServerProcess
from harness.tokens import DEFAULT_TOKENS
from harness.verdicts import judge, measure, unpaced

#: A cell whose evidence contradicts its stall is played again, at most this often.
MAX_REPLAYS = 2


def default_jobs() -> int:
    """Cells in flight at once: a cell mostly waits (on its client, or a hold window), so a
    few per core keep the machine busy; verdicts do not depend on it (causal stalls)."""
    return 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    hold_window: float = 1.0  # how long token k may take to surface before it counts as held
    connect_window: float = 10.0  # how long the request may take to reach the server
    deadline: float = 30.0  # every cell has a verdict by then, whatever happens
    jobs: int = field(default_factory=default_jobs)  # cells in flight at once
    tokens: tuple[str, ...] = DEFAULT_TOKENS


@dataclass(frozen=True)
class Matrix:
    variants: Sequence[Variant]
    clients: Sequence[Client]
    networks: Sequence[str] = ("direct",)

    def cells(self) -> list[Cell]:
        return [
            Cell(v.name, c.name, n)
            for n in self.networks
            for v in self.variants
            for c in self.clients
        ]


async def run_matrix(
    matrix: Matrix,
    variant_specs: Sequence[str],
    settings: Settings,
    on_result: Callable[[Result, int, int], None] = lambda r, i, n: None,
) -> tuple[list[Result], dict[str, str]]:
    """Run every cell against one server process and one browser; return results and metadata.

    Up to ``settings.jobs`` cells run at once: a cell mostly waits (on tokens, or on a
    hold window), so overlapping cells costs little and the lockstep keeps each honest.
    """
    variants = {v.name: v for v in matrix.variants}
    clients = {c.name: c for c in matrix.clients}
    cells = matrix.cells()
    results: dict[Cell, Result] = {}
    slots = asyncio.Semaphore(max(1, settings.jobs))
    async with contextlib.AsyncExitStack() as stack:
        server = ServerProcess(variant_specs, settings.tokens)
        stack.push_async_callback(server.stop)
        browser = await stack.enter_async_context(Browser())
        node = await stack.enter_async_context(NodeHost())
        resources = Resources(browser_context=browser.hub, node_host=node.hub)
        # Chromium launches while the server imports its app: both take seconds.
        wants_browser = any(c.group == "browser" for c in matrix.clients)
        launch = asyncio.ensure_future(_launch(browser) if wants_browser else asyncio.sleep(0))
        stack.callback(launch.cancel)
        await server.start()
        origins = {
            n: await stack.enter_async_context(network_origin(n, server)) for n in matrix.networks
        }
        if wants_browser:
            # A page per network before the first cell, so that no cell's timings
            # include them; a failure is reported by each browser cell.
            with contextlib.suppress(ClientFailed):
                await launch
                hub = await browser.hub()
                for origin in origins.values():
                    await hub.warm(origin)

        async def one(cell: Cell) -> None:
            async with slots:
                result = await run_cell(
                    cell, variants[cell.variant], clients[cell.client], server,
                    origins[cell.network], resources, settings,
                )  # fmt: skip
            results[cell] = result
            on_result(result, len(results), len(cells))

        tasks = [asyncio.ensure_future(one(cell)) for cell in cells]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        metadata = {"chromium": browser.version or "not started"}
    return [results[c] for c in cells], metadata


async def _launch(browser: Browser) -> None:
    with contextlib.suppress(ClientFailed):  # each browser cell reports it
        await browser.hub()


@contextlib.asynccontextmanager
async def network_origin(network: str, server: ServerProcess) -> AsyncIterator[str]:
    """The origin clients use: the server itself, or a shaping proxy (its own process)."""
    if network == "direct":
        yield server.origin
        return
    listener = loopback_listener()
    port = listener.getsockname()[1]
    command = [sys.executable, "-m", "harness.proxy", "--network", network]
    process = spawn([*command, "--upstream-port", str(server.port)], listener=listener)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await end(process)


def choose_method(client: Client, variant: Variant) -> str | None:
    """POST (how LLM apps call) when both sides allow it, else GET, else None."""
    for method in ("POST", "GET"):
        if method in client.methods and method in variant.methods:
            return method
    return None


async def run_cell(
    cell: Cell,
    variant: Variant,
    client: Client,
    server: ServerProcess,
    origin: str,
    resources: Resources,
    settings: Settings,
) -> Result:
    """Play the cell; replay it while its evidence contradicts a stall, within its deadline."""
    began = time.monotonic()
    replayed: list[str] = []
    while True:
        remaining = settings.deadline - (time.monotonic() - began)
        facts = await _attempt(variant, client, server, origin, resources, settings, remaining)
        why = unpaced(facts)
        if not why or len(replayed) >= MAX_REPLAYS or facts.timed_out:
            break
        if settings.deadline - (time.monotonic() - began) < 2 * settings.hold_window:
            break
        replayed.append(why)
    facts.replayed = replayed
    facts.started_at = began if replayed else facts.started_at
    verdict, detail = judge(facts)
    first, p50, p99, duration = measure(facts)
    return Result(cell, verdict, detail, first, p50, p99, duration, facts)


async def _attempt(
    variant: Variant,
    client: Client,
    server: ServerProcess,
    origin: str,
    resources: Resources,
    settings: Settings,
    deadline: float,
) -> Facts:
    stream = secrets.token_hex(8)
    lock = Lockstep(list(settings.tokens), Display(variant.codec, client.kind))
    facts = lock.facts
    facts.started_at = time.monotonic()
    method = choose_method(client, variant)
    if client.codecs is not None and variant.codec not in client.codecs:
        facts.unsupported = (
            f"{client.name} only reads {', '.join(sorted(client.codecs))} streams; "
            f"{variant.name} is {variant.codec}"
        )
    elif method is None:
        facts.unsupported = (
            f"{client.name} can only {'/'.join(sorted(client.methods))}; "
            f"{variant.name} answers {'/'.join(sorted(variant.methods))}"
        )
    else:
        url = f"{origin}/v/{variant.name}"
        request = Request(
            cell_id=stream,
            url=f"{url}?stream={stream}" if method == "GET" else url,
            method="POST" if method == "POST" else "GET",
            body={"stream": stream, "prompt": "Say something that breaks clients."},
            read_timeout=settings.deadline,
            event=variant.event,
            end_event=variant.end_event,
            end_data=variant.end_data,
        )
        await _play(lock, client, request, server, stream, resources, settings, deadline)
    facts.finished_at = facts.finished_at or time.monotonic()
    return facts


async def _play(
    lock: Lockstep,
    client: Client,
    request: Request,
    server: ServerProcess,
    stream: str,
    resources: Resources,
    settings: Settings,
    deadline: float,
) -> None:
    facts = lock.facts
    server.expect(stream)
    task = asyncio.ensure_future(client.drive(request, lock, resources))
    task.add_done_callback(lambda _: lock.client_finished())

    async def play() -> None:
        # The hold window for token 1 starts when the request reaches the server.
        started = asyncio.ensure_future(server.started(stream, settings.connect_window))
        try:
            await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
            if started.done() and not started.exception() and started.result():
                await lock.pace(lambda k: server.release(stream, k), settings.hold_window)
        finally:
            started.cancel()
        await asyncio.shield(task)

    try:
        await asyncio.wait_for(play(), max(0.0, deadline))
    except asyncio.TimeoutError:
        facts.timed_out = True
    except ClientFailed as exc:
        facts.failure = str(exc)
    except Exception as exc:  # a client library raising is a verdict, not a crash
        facts.failure = f"{type(exc).__name__}: {exc}".strip()
    finally:
        facts.finished_at = time.monotonic()
        lock.close()
        task.cancel()
        await asyncio.wait({task}, timeout=5)  # bounded: a driver must not keep the run
        with contextlib.suppress(Exception):
            server.release(stream, len(facts.tokens) + 1)  # let the server side finish
            record = await server.take(stream)
            facts.emitted_at = [float(t) for t in record["emitted_at"]]
            facts.ended_at = float(record.get("ended_at") or 0.0)
            facts.requests = int(record.get("requests") or 0)
            if record.get("error"):
                facts.server_note = str(record["error"])
            elif record.get("started") and not record.get("consumed"):
                facts.server_note = "the response never read the token stream (not streaming)"
