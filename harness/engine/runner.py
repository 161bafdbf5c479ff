"""The runner: iterate the cells, play each in lockstep, record a result per cell.

The matrix is data (variants, clients, networks); this module only iterates and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from streamcompat.harness.engine.app import App, AppProcess
from streamcompat.harness.engine.lockstep import Idle, Lockstep
from streamcompat.harness.engine.networks import Listening, network_origin, which_hop
from streamcompat.harness.engine.plan import Matrix, Settings
from streamcompat.harness.engine.schedule import (
    WAITING_VERDICTS,
    Slots,
    Turns,
    client_threads,
    schedule,
)
from streamcompat.harness.engine.server import ServerError, ServerLife, ServerProcess
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.node_host import NodeHost
from streamcompat.harness.hosts.processes import (
    STOP_BOUND_S,
    Together,
)
from streamcompat.harness.kernel.codecs import Display
from streamcompat.harness.kernel.model import (
    Cell,
    Client,
    ClientFailed,
    Facts,
    Request,
    Resources,
    Result,
    Variant,
)
from streamcompat.harness.kernel.networks import network as network_record
from streamcompat.harness.kernel.scenarios import SCENARIOS, Scenario
from streamcompat.harness.kernel.server_record import ServerRecord
from streamcompat.harness.kernel.verdicts import dropped_on_the_way, judge, measure, unpaced

#: A cell whose evidence contradicts its stall is played again, at most this often.
MAX_REPLAYS = 2
#: One whose stream a real proxy ended on its own (short attempts), this often: Caddy 2.6
#: does it in bursts, up to 12 cells of a loaded `--network real` run, one 3 times running.
MAX_DROP_REPLAYS = 5
#: How long a cancelled client driver may take to clean up (close its sockets, end curl).
DRIVER_EXIT_BOUND_S = 5.0


@dataclass(frozen=True)
class Stage:
    """Where a cell plays: the variant server, the client hosts, the settings, and how the
    cell lends its working slot out while it only waits (``Slots``)."""

    server: ServerProcess
    resources: Resources
    settings: Settings
    idle: Idle = contextlib.nullcontext
    app: AppProcess | None = None  # app mode: cells go to the app, which calls the server


async def run_matrix(
    matrix: Matrix,
    variant_specs: Sequence[str],
    settings: Settings,
    on_result: Callable[[Result, int, int], None] = lambda r, i, n: None,
    expected: Mapping[str, str] | None = None,
    app: App | None = None,
    server: ServerProcess | None = None,
) -> tuple[list[Result], dict[str, str]]:
    """Run every cell against one variant server and one browser; return results and metadata.

    ``server``: the variant server of ``variant_specs`` and ``settings.tokens``, begun by
    the caller ahead of the run (``ServerProcess.begin``); ended with the run either way.

    Up to ``settings.jobs`` cells work at once (see ``Slots``), in the order ``schedule``
    makes of what ``expected`` (a baseline) says of them.

    A variant server that dies is restarted on the same port (``ServerProcess``); the
    cells running on it at that moment are ERROR, naming its death. If it cannot be
    restarted, the run ends at once with ServerError.

    With ``app`` (app mode), the matrix's one variant is ``app.variant()``: cells go to
    the app's endpoint, and the variant server is the fake upstream the app calls. An app
    that exits while cells run is started again (``AppProcess``); one that will not
    start, or keeps dying, ends the run with AppError.
    """
    variants = {v.name: v for v in matrix.variants}
    clients = {c.name: c for c in matrix.clients}
    cells = matrix.cells()
    waits = {k for k, verdict in (expected or {}).items() if verdict in WAITING_VERDICTS}
    order = schedule(cells, expected)
    results: dict[Cell, Result] = {}
    slots = Slots(settings.jobs)
    client_threads(slots.most_in_flight)
    pools: dict[tuple[str, str], Turns] = {}

    def connections(client: Client, network: str) -> Turns | None:
        if client.connections_per_origin is None:
            return None
        # One short of the limit: a page's own keep-alive connection may hold one.
        size = max(1, client.connections_per_origin - 1)
        return pools.setdefault((client.group, network), Turns(size))

    async with contextlib.AsyncExitStack() as stack:
        # The processes of the run, ended all at once after the tasks are cancelled.
        ends = await stack.enter_async_context(Together())
        server = server or ServerProcess(variant_specs, settings.tokens)
        ends.callback(server.stop)
        # An app serves no blank page of ours: the browser makes it up (see Browser).
        browser = await ends.enter(Browser(blank_page=app is not None))
        node = await ends.enter(NodeHost())
        resources = Resources(browser_context=browser.hub, node_host=node.hub)
        # Chromium launches while the server imports its app: both take seconds.
        wants_browser = any(c.group == "browser" for c in matrix.clients)
        launch = asyncio.ensure_future(_launch(browser) if wants_browser else asyncio.sleep(0))
        stack.callback(launch.cancel)
        await server.start()
        running = None
        if app is not None:
            running = await ends.enter(AppProcess(app, server.origin))
        target: Listening = running or server
        origins = {n: await ends.enter(network_origin(n, target)) for n in matrix.networks}
        # Browser cells start once Chromium is up with a page per network, so that no
        # cell's timings include them; the other cells start at once.
        browser_ready = asyncio.ensure_future(
            _warm(browser, origins.values()) if wants_browser else asyncio.sleep(0)
        )
        stack.callback(browser_ready.cancel)
        stage = Stage(server, resources, settings, app=running)

        async def one(place: int, cell: Cell) -> None:
            client = clients[cell.client]
            if client.group == "browser":
                await asyncio.shield(browser_ready)
            pool = connections(client, cell.network)
            async with slots.cell(pool, place, waits=cell.key in waits) as idle:
                result = await run_cell(
                    cell, variants[cell.variant], client,
                    origins[cell.network], replace(stage, idle=idle),
                )  # fmt: skip
            results[cell] = result
            on_result(result, len(results), len(cells))

        tasks = [asyncio.ensure_future(one(place, cell)) for place, cell in enumerate(order)]

        async def every_cell() -> None:
            await asyncio.gather(*tasks)
            # A restart still under way when the last cell ended must succeed too: the
            # same cells give the same exit code, however they were scheduled.
            await server.running()
            if running is not None:
                await running.running()

        cells_done = asyncio.ensure_future(every_cell())
        broken = asyncio.ensure_future(server.broken.wait())
        app_broken = asyncio.ensure_future(
            running.broken.wait() if running else asyncio.Event().wait()
        )
        try:
            await asyncio.wait(
                {cells_done, broken, app_broken}, return_when=asyncio.FIRST_COMPLETED
            )
            if running is not None and running.broken.is_set():
                raise ServerError(running.failure)
            if not cells_done.done():
                raise ServerError(server.failure)
            cells_done.result()
        finally:
            for future in (cells_done, broken, app_broken, *tasks):
                future.cancel()
            await asyncio.gather(cells_done, broken, app_broken, *tasks, return_exceptions=True)
        metadata = {"chromium": browser.version or "not started"}
    return which_hop([results[c] for c in cells], expected), metadata


async def _launch(browser: Browser) -> None:
    with contextlib.suppress(ClientFailed):  # each browser cell reports it
        await browser.hub()


async def _warm(browser: Browser, origins: Iterable[str]) -> None:
    """Chromium up, with a page ready on each origin; a failure is each browser cell's."""
    with contextlib.suppress(ClientFailed):
        hub = await browser.hub()
        await asyncio.gather(*(hub.warm(origin) for origin in origins))


def choose_method(client: Client, variant: Variant) -> str | None:
    """POST (how LLM apps call) when both sides allow it, else GET, else None."""
    for method in ("POST", "GET"):
        if method in client.methods and method in variant.methods:
            return method
    return None


async def run_cell(
    cell: Cell, variant: Variant, client: Client, origin: str, stage: Stage
) -> Result:
    """Play the cell; replay it while its evidence contradicts a stall, or says a real proxy
    dropped the stream on its own, within its deadline."""
    on = network_record(cell.network)
    between = on.origin == "proxy"  # a real hop may drop a stream
    # A hop's own delay per write is no token held back.
    settings = replace(stage.settings, hold_window=stage.settings.hold_window + on.hold_extra_s)
    stage = replace(stage, settings=settings)
    await stage.server.running()  # a restart under way is no part of the cell's time
    if stage.app is not None:
        await stage.app.running()  # nor is an app's
    began = time.monotonic()
    replayed: list[str] = []
    while True:
        remaining = settings.deadline - (time.monotonic() - began)
        scenario = SCENARIOS[cell.scenario]
        facts = await _attempt(variant, client, origin, stage, remaining, scenario)
        late = unpaced(facts)
        why = late or (between and dropped_on_the_way(facts))
        limit = MAX_REPLAYS if late else MAX_DROP_REPLAYS
        if not why or len(replayed) >= limit or facts.timed_out or facts.server_died:
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
    origin: str,
    stage: Stage,
    deadline: float,
    scenario: Scenario = SCENARIOS["stream"],
) -> Facts:
    settings = stage.settings
    stream = secrets.token_hex(8)
    display = Display(variant.codec, client.kind)
    lock = Lockstep(list(settings.tokens), display, stage.idle, scenario.abort_after)
    facts = lock.facts
    facts.fail_after = scenario.fail_after
    facts.started_at = time.monotonic()
    facts.deadline = settings.deadline
    facts.think = settings.think
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
        if stage.app is not None:
            url, body = stage.app.app.request(origin, stream)
        else:
            url = f"{origin}/v/{variant.name}"
            url = f"{url}?stream={stream}" if method == "GET" else url
            body = {"stream": stream, "prompt": "Say something that breaks clients."}
        request = Request(
            cell_id=stream,
            url=url,
            method="POST" if method == "POST" else "GET",
            body=body,
            read_timeout=settings.deadline,
            event=variant.event,
            end_event=variant.end_event,
            end_data=variant.end_data,
            library_timeouts=settings.think > 0,
        )
        await _play(lock, client, request, stream, stage, deadline)
    if stage.app is not None:
        await stage.app.annotate(facts, stream)
    facts.finished_at = facts.finished_at or time.monotonic()
    return facts


async def _play(
    lock: Lockstep, client: Client, request: Request, stream: str, stage: Stage, deadline: float
) -> None:
    """Drive the client and pace the server until the cell ends: the client finishes or
    fails, no response head comes within the head window, the deadline passes, or the
    server the cell runs on dies."""
    facts, settings = lock.facts, stage.settings
    life = await stage.server.running()
    life.expect(stream)
    task = asyncio.ensure_future(client.drive(request, lock, stage.resources))
    task.add_done_callback(lambda _: lock.client_finished())

    async def play() -> None:
        # The hold window for token 1, and the head window, start when the request
        # reaches the server.
        started = asyncio.ensure_future(life.started(stream, settings.connect_window))
        try:
            await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            _drop(started)
        if started.done() and not started.cancelled() and started.result():
            facts.arrived_at = time.monotonic()
            if not await _paced(lock, life, stream, stage):
                facts.no_head_within = settings.head_wait
                return
        elif not task.done():
            facts.no_head_within = settings.connect_window
            return
        await asyncio.shield(task)

    playing = asyncio.ensure_future(play())
    died = asyncio.ensure_future(life.dead.wait())
    try:
        first = asyncio.FIRST_COMPLETED
        await asyncio.wait({playing, died}, timeout=max(0.0, deadline), return_when=first)
        if playing.done():
            playing.result()
        elif not died.done():
            facts.timed_out = True
    except ClientFailed as exc:
        facts.failure = str(exc)
    except ServerError:
        pass  # its control channel closed: the server went, and _record says how
    except Exception as exc:  # a client library raising is a verdict, not a crash
        facts.failure = f"{type(exc).__name__}: {exc}" if str(exc).strip() else type(exc).__name__
    finally:
        facts.finished_at = time.monotonic()
        lock.close()
        for future in (playing, died, task):
            future.cancel()
        # Bounded: a driver must not keep the run. Whatever the driver still raises is
        # not news: the cell's facts are recorded.
        await asyncio.wait({playing, task}, timeout=DRIVER_EXIT_BOUND_S)
        _drop(playing, died, task)
        await _record(life, stream, facts, settings.hold_window)


async def _paced(lock: Lockstep, life: ServerLife, stream: str, stage: Stage) -> bool:
    """Pace the stream while watching for its response head; False if none came within
    the head window (the server sent none and the client reported none)."""
    settings = stage.settings
    # App mode: the server's head is the upstream's, sent to the app; only the client
    # can tell that the app answered.
    sent = life.head(stream) if stage.app is None else asyncio.Event()
    heard = asyncio.ensure_future(_head_within(lock, sent, settings.head_wait))
    release = partial(life.release, stream)
    if lock.facts.fail_after is not None:  # the error scenarios: the token after it fails
        release = partial(life.release, stream, fail_at=lock.facts.fail_after + 1)
    pacing = asyncio.ensure_future(lock.pace(release, settings.hold_window, settings.think))
    try:
        await asyncio.wait({heard, pacing}, return_when=asyncio.FIRST_COMPLETED)
        if not heard.done():
            pacing.result()  # pacing ended first: raise what it raised, if anything
            async with stage.idle():  # only waiting now: lend the working slot out
                if not await heard:
                    raise _NoHead  # leaves without taking the slot back: the cell is over
        if not heard.result():
            return False
        await pacing
        return True
    except _NoHead:
        return False
    finally:
        # Waited for: pacing lends the working slot out and takes it back, and must be
        # done with it before the cell gives its slot up.
        for future in (heard, pacing):
            future.cancel()
        await asyncio.wait({heard, pacing}, timeout=DRIVER_EXIT_BOUND_S)
        _drop(heard, pacing)


class _NoHead(Exception):
    """No response head came: the cell ends without waiting for its working slot."""


async def _head_within(lock: Lockstep, sent: asyncio.Event, window: float) -> bool:
    """True once a response head came: the server sent one, or the client reported one."""
    client_heard = asyncio.ensure_future(lock.head_within(window))
    server_sent = asyncio.ensure_future(sent.wait())
    try:
        await asyncio.wait({client_heard, server_sent}, return_when=asyncio.FIRST_COMPLETED)
        return sent.is_set() or client_heard.result()
    finally:
        _drop(client_heard, server_sent)


async def _record(life: ServerLife, stream: str, facts: Facts, settle: float = 0.0) -> None:
    """The server's side of the cell (emission times, errors), or how the server died.

    A client that left (the abort scenario) gets no more tokens from the harness: the
    record is taken once the server's model run is over, waited for (``settle`` seconds
    while the response waits, and as long again while the model runs as the response
    asks, see ``ServerLife.take``).
    """
    record: ServerRecord | None = None
    left = bool(facts.aborted_at) and not facts.timed_out
    if not life.closed.is_set():
        with contextlib.suppress(Exception):
            if left:
                record = await life.take(stream, settle=settle)
            else:
                life.release(stream, len(facts.tokens) + 1)  # let the server side finish
                record = await life.take(stream)
    if record is None and life.closed.is_set():  # it went while the cell ran
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(life.dead.wait(), 2 * STOP_BOUND_S)  # reap() is bounded
        facts.server_died = life.death or f"its control channel closed{life.lost}"
        return
    if record is None:
        return
    facts.emitted_at = list(record.emitted_at)
    facts.ended_at = record.ended_at
    facts.requests = record.requests
    facts.wire = record.wire
    facts.generated = record.generated
    facts.cancelled_at = record.cancelled_at
    facts.let_run = record.left
    if left and not record.finished:
        facts.running_after = 2 * settle
    if record.error:
        facts.server_note = record.error
    elif record.started and not record.consumed:
        facts.server_note = "the response never read the token stream (not streaming)"


def _drop(*futures: asyncio.Future[Any]) -> None:
    """Cancel what still runs; mark whatever they end with as seen (the cell's facts hold
    what matters), so that asyncio never prints an exception nobody retrieved."""
    for future in futures:
        future.cancel()
        future.add_done_callback(_seen)


def _seen(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
