"""One real client driver, one stream through the ``split`` proxy, in lockstep with the driver.

A small aiohttp server on loopback sends a body as a few writes (``Step``); the real
``Proxy("split")`` cuts each of them where parsers break. After each write the server
waits until the driver has surfaced what a correct client shows of the body so far, so
every write ends where the driver has read it: a cut at a write's end is one no load can
join to the next read. (The proxy's own cuts inside a write reach a driver on the test's
event loop one read each; a thread or another process may join some of them.)

The wait is bounded; it is never the evidence. A unit was held back only if neither the
test heard of it nor the client (by its own clock) surfaced it before the server sent the
write after it: hearing first is causal proof; a late report on a busy machine still
carries the client's clock, as the harness judges.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from streamcompat.harness.engine.proxy import Proxy
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.firefox import Firefox
from streamcompat.harness.hosts.node_host import NodeHost
from streamcompat.harness.kernel.model import Client, NeverStops, Request, Resources
from tests.support.servers import serving

#: Bounds what a step waits for: the driver surfacing a write (after it, the rest is sent
#: at once), or a cancelled driver's end.
STEP_BOUND_S = 10.0
#: Bounds a whole stream (request, every step, the driver's end), and the driver's reads.
STREAM_BOUND_S = 30.0


@dataclass(frozen=True)
class Step:
    """One body write, and the units a correct driver has newly surfaced once it has it
    (for a chunk driver, the text: how it falls into chunks is the network's)."""

    write: bytes
    shows: tuple[str, ...] = ()


def expected(client: Client, steps: Sequence[Step]) -> list[str]:
    """What the driver surfaces of the whole body, in the units ``Recorder.seen`` has."""
    return _units(client, [unit for step in steps for unit in step.shows])


def _units(client: Client, payloads: Sequence[str]) -> list[str]:
    # Chunks compare as characters: a chunk driver's units are any cut of the same text.
    return list("".join(payloads)) if client.kind == "chunk" else list(payloads)


class Recorder(NeverStops):
    """A Reporter that keeps every unit with the moment the client surfaced it; callable
    from a driver's thread, as the harness's own Reporter is."""

    def __init__(self, client: Client, read: Callable[[str], str] = lambda unit: unit) -> None:
        self.protocol = ""
        self.client = client
        self.read = read  # what the user makes of a unit (the openai codec: its delta)
        self.payloads: list[tuple[str, float]] = []  # (unit, surfaced or heard, if sooner)
        self.status = 0
        self.end_note: str | None = None
        self.changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def seen(self) -> list[str]:
        return _units(self.client, [self.read(payload) for payload, _ in self.payloads])

    def surfaced_at(self, count: int) -> float:
        """When the client had surfaced its first ``count`` units (``seen``): by its clock,
        or when the test heard of them, whichever is sooner (the clocks of another
        process are mapped onto this one's to about a millisecond)."""
        units = 0
        for payload, at in self.payloads:
            units += len(_units(self.client, [self.read(payload)]))
            if units >= count:
                return at
        raise AssertionError(f"only {units} units surfaced, not {count}")

    def requesting(self, at: float | None = None) -> None:
        pass

    def opened(self, status: int, content_type: str, at: float | None = None) -> None:
        self._on_loop(self._opened, status)

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self._on_loop(self._surfaced, payload, time.monotonic() if at is None else at)

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        self._on_loop(self._ended, note)

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        self.protocol = protocol

    def barrier_via(self, barrier: Any) -> None:
        pass  # the steps wait for the reports themselves

    def _on_loop(self, fn: Callable[..., None], *args: object) -> None:
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _opened(self, status: int) -> None:
        self.status = status

    def _surfaced(self, payload: str, at: float) -> None:
        self.payloads.append((payload, min(at, time.monotonic())))
        self.changed.set()

    def _ended(self, note: str) -> None:
        self.end_note = note
        self.changed.set()

    async def until(
        self, units: list[str], driver_done: asyncio.Event, bound: float = STEP_BOUND_S
    ) -> bool:
        """Wait until the driver has surfaced ``units`` from the start, or something that
        is not their start (it went wrong), or it ended; False if ``bound`` came first."""
        deadline = time.monotonic() + bound
        while not driver_done.is_set():
            seen = self.seen()
            if len(seen) >= len(units) or seen != units[: len(seen)]:
                return True
            if time.monotonic() >= deadline:
                return False
            self.changed.clear()
            waits = {asyncio.ensure_future(e.wait()) for e in (self.changed, driver_done)}
            await asyncio.wait(
                waits, timeout=deadline - time.monotonic(), return_when=asyncio.FIRST_COMPLETED
            )
            for wait in waits:
                wait.cancel()
        return True


@dataclass
class Stream:
    """What one stream through ``split`` gave: the driver's record, and the server's."""

    recorder: Recorder
    sent_at: list[float] = field(default_factory=list)  # before each step's write
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of each
    failure: str = ""  # what the driver raised, if it did
    cut: bool = False  # the proxy wrote more pieces than it read

    def held_back(self, steps: Sequence[Step]) -> list[int]:
        """The 1-based steps whose units the client surfaced only once the next write had
        been sent (``Recorder.surfaced_at``), or never."""
        held, count = [], 0
        for k, step in enumerate(steps[:-1], start=1):
            count += len(_units(self.recorder.client, step.shows))
            if not step.shows:
                continue
            never = len(self.recorder.seen()) < count
            next_sent = self.sent_at[k] if k < len(self.sent_at) else float("inf")
            if never or self.recorder.surfaced_at(count) >= next_sent:
                held.append(k)
        return held


def request_for(client: Client, url: str) -> Request:
    """The cell's request, as the runner makes it: POST where the client can, else GET."""
    body = {"stream": "split", "prompt": "Say something that breaks clients."}
    if "POST" in client.methods:
        return Request("split", url, "POST", body, STREAM_BOUND_S)
    return Request("split", f"{url}?stream=split", "GET", body, STREAM_BOUND_S)


async def _no_browser() -> Any:
    raise AssertionError("these drivers need no browser")


@contextlib.asynccontextmanager
async def _browser_for(client: Client) -> AsyncIterator[Callable[[], Any]]:
    """A browser client's browser (its engine's): its pages on the test server's origin,
    whose ``/_sc/blank`` the browser answers itself (as for an app under test)."""
    if client.group != "browser":
        yield _no_browser
    elif client.engine == "firefox":
        async with Firefox(blank_page=True) as firefox:
            yield firefox.hub
    else:
        async with Browser(blank_page=True) as browser:
            yield browser.hub


def drive(
    client: Client,
    steps: Sequence[Step],
    content_type: str,
    read: Callable[[str], str] = lambda unit: unit,
    headers: Mapping[str, str] | None = None,
    step_bound: float = STEP_BOUND_S,
) -> Stream:
    """Run ``client``'s real driver on ``steps``, served with ``content_type`` (and
    ``headers``) behind the real ``split`` proxy on loopback, in lockstep; return what it
    surfaced, and when. ``step_bound``: how long a step waits for the driver before the
    rest goes out at once (shorter for a client that shows nothing before the end)."""

    async def main() -> Stream:
        stream = Stream(Recorder(client, read))
        driver_done = asyncio.Event()

        async def respond(request: web.Request) -> web.StreamResponse:
            stream.requests.append((request.method, request.path))
            await request.read()
            response = web.StreamResponse(headers={"Content-Type": content_type, **(headers or {})})
            await response.prepare(request)
            shown: list[str] = []
            waiting = True  # until a step's wait is out: the driver holds back, send the rest
            for step in steps:
                stream.sent_at.append(time.monotonic())
                await response.write(step.write)
                shown += step.shows
                if waiting:
                    shown_so_far = _units(client, shown)
                    waiting = await stream.recorder.until(shown_so_far, driver_done, step_bound)
            return response

        app = web.Application()
        # Only the stream: a browser page's own requests (its favicon) get a 404.
        app.router.add_route("*", "/v/{path:.*}", respond)
        async with serving(app) as origin, NodeHost() as node, _browser_for(client) as hub:
            port = int(origin.rpartition(":")[2])
            async with Proxy("split", "127.0.0.1", port) as proxy:
                resources = Resources(hub, node_host=node.hub)
                url = f"http://127.0.0.1:{proxy.port}/v/split"
                request = request_for(client, url)
                task = asyncio.ensure_future(client.drive(request, stream.recorder, resources))
                task.add_done_callback(lambda _: driver_done.set())
                try:
                    await asyncio.wait_for(asyncio.shield(task), STREAM_BOUND_S)
                except Exception as exc:  # the driver's error is part of what it did
                    stream.failure = f"{type(exc).__name__}: {exc}"
                finally:
                    task.cancel()  # as the runner does: bounded, whatever it still raises
                    await asyncio.wait({task}, timeout=STEP_BOUND_S)
                    if task.done() and not task.cancelled():
                        task.exception()
                stream.cut = proxy.downstream_writes > proxy.upstream_reads
        return stream

    return asyncio.run(main())
