"""The runner: iterate the cells, play each in lockstep, record a result per cell.

The matrix is data (variants, clients, networks); this module only iterates and records.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from streamcompat.harness.engine.app import App, AppProcess
from streamcompat.harness.engine.lockstep import Lockstep
from streamcompat.harness.engine.networks import (
    Listening,
    network_origin,
    speaks_tls,
    which_hop,
)
from streamcompat.harness.engine.plan import Matrix, Settings
from streamcompat.harness.engine.play import Rendezvous, Stage, play
from streamcompat.harness.engine.schedule import (
    WAITING_VERDICTS,
    Slots,
    Turns,
    client_threads,
    schedule,
)
from streamcompat.harness.engine.server import ServerError, ServerProcess
from streamcompat.harness.engine.serving import start_servers
from streamcompat.harness.hosts.browser import Browser
from streamcompat.harness.hosts.firefox import Firefox
from streamcompat.harness.hosts.node_host import NodeHost
from streamcompat.harness.hosts.processes import (
    Together,
)
from streamcompat.harness.hosts.tls import Authority, authority
from streamcompat.harness.hosts.webkit import WebKit
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
from streamcompat.harness.kernel.servers import SERVERS
from streamcompat.harness.kernel.verdicts import (
    dropped_on_the_way,
    judge,
    judge_many,
    measure,
    new_connection,
    unpaced,
    with_pitfalls,
)

#: A cell whose evidence contradicts its stall is played again, at most this often.
MAX_REPLAYS = 2
#: One whose stream a real proxy ended on its own (short attempts), this often: Caddy 2.6
#: does it in bursts, up to 12 cells of a loaded `--network real` run, one 3 times running,
#: and (caddy-h2, a loaded CI run) two cells 6 times running. The deadline bounds it too.
MAX_DROP_REPLAYS = 8


#: A browser engine's host: each launches on first use and names its version.
Engine = Browser | Firefox | WebKit


async def run_matrix(
    matrix: Matrix,
    variant_specs: Sequence[str],
    settings: Settings,
    on_result: Callable[[Result, int, int], None] = lambda r, i, n: None,
    expected: Mapping[str, str] | None = None,
    app: App | None = None,
    server: ServerProcess | None = None,
    tls: Authority | None = None,
) -> tuple[list[Result], dict[str, str]]:
    """Run every cell against one variant server and one browser; return results and metadata.

    ``server``: the variant server of ``variant_specs`` and ``settings.tokens``, begun by
    the caller ahead of the run (``ServerProcess.begin``); ended with the run either way.
    ``tls``: the run's CA and certificate where a network speaks TLS, made by the caller
    (the variant server it begun serves it: ``direct-tls``), else made here.

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
    order = schedule(cells, expected, {c.name for c in matrix.clients if c.unit_interval_s})
    results: dict[Cell, Result] = {}
    slots = Slots(settings.jobs)
    client_threads(slots.most_in_flight)
    pools: dict[tuple[str, str, str], Turns] = {}
    # A server that serves few requests at once gets no more cells at once (gunicorn's
    # sync workers): beyond them, requests would queue in its backlog, their clocks running.
    at_once = {s: Turns(n) for s in matrix.servers if (n := SERVERS[s].at_once)}

    def connections(client: Client, network: str) -> Turns | None:
        if client.connections_per_origin is None:
            return None
        # One short of the limit: a page's own keep-alive connection may hold one.
        size = max(1, client.connections_per_origin - 1)
        return pools.setdefault((client.group, client.engine, network), Turns(size))

    async with contextlib.AsyncExitStack() as stack:
        # A CA of the run's own where a network speaks TLS; its files go once every
        # process that read them has ended (entered first: left last).
        records = [network_record(n) for n in matrix.networks]
        if tls is None and any(map(speaks_tls, records)):
            tls = stack.enter_context(authority())
        spki, ca_file = (tls.spki, str(tls.ca)) if tls else ("", "")
        # The processes of the run, ended all at once after the tasks are cancelled.
        ends = await stack.enter_async_context(Together())
        serves_tls = any(r.server_tls for r in records)  # direct-tls: the server's own TLS
        server = server or ServerProcess(
            variant_specs, settings.tokens, tls if serves_tls else None
        )
        ends.callback(server.stop)
        # An app serves no blank page of ours: the browser makes it up (see Browser).
        browser = await ends.enter(Browser(blank_page=app is not None, spki=spki))
        firefox = await ends.enter(Firefox(ca_file, blank_page=app is not None))
        webkit = await ends.enter(WebKit(tls, blank_page=app is not None))
        node = await ends.enter(NodeHost(ca_file))
        browsers: dict[str, Engine] = {"chromium": browser, "firefox": firefox, "webkit": webkit}
        resources = Resources(
            browser.hub, node.hub, engines={"firefox": firefox.hub, "webkit": webkit.hub}
        )
        # The browsers launch while the server imports its app: both take seconds.
        engines = {c.engine for c in matrix.clients if c.group == "browser"}
        wanted = [browsers[engine] for engine in sorted(engines)]
        launch = asyncio.ensure_future(_launch(wanted))
        stack.callback(launch.cancel)
        await server.start()
        running = None
        if app is not None:
            running = await ends.enter(AppProcess(app, server.origin))
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamcompat-")))
        # Only the servers some cell runs under (a WSGI server runs none of Starlette's).
        serving = [s for s in matrix.servers if any(c.server == s for c in cells)]
        relays = await start_servers(serving, variant_specs, server.origin, logs, ends)
        targets: dict[str, Listening] = {s: relays.get(s) or running or server
                                         for s in serving}  # fmt: skip
        origins = {
            (s, n): await ends.enter(network_origin(n, target, tls))
            for s, target in targets.items()
            for n in matrix.networks
        }
        # Browser cells start once their browsers are up with a page per network, so that no
        # cell's timings include them; the other cells start at once.
        ready = {
            e: asyncio.ensure_future(_warm(browsers[e], origins.values(), settings.jobs))
            for e in engines
        }
        for warming in ready.values():
            stack.callback(warming.cancel)
        stage = Stage(server, resources, settings, app=running, ca_file=ca_file)
        stages = {s: replace(stage, app=relays.get(s) or running) for s in serving}

        async def one(place: int, cell: Cell) -> None:
            client = clients[cell.client]
            if client.group == "browser":
                await asyncio.shield(ready[client.engine])
            pool = connections(client, cell.network)
            turns = at_once.get(cell.server)
            async with slots.cell(pool, place, waits=cell.key in waits, server=turns) as idle:
                result = await run_cell(
                    cell, variants[cell.variant], client,
                    origins[cell.server, cell.network], replace(stages[cell.server], idle=idle),
                )  # fmt: skip
            results[cell] = result
            on_result(result, len(results), len(cells))

        def runs_alone(cell: Cell) -> bool:
            """Many streams; or keep-alive in a browser, whose pool of connections its
            pages share: another cell's request could take the first request's idle one."""
            scenario = SCENARIOS[cell.scenario]
            return scenario.streams > 1 or (
                scenario.keep_alive and clients[cell.client].group == "browser"
            )

        async def alone(cell: Cell) -> None:
            """A cell with nothing else running (``runs_alone``): its client's connections
            to the origin are all its own (no pool, no slot: the run waits for it)."""
            client = clients[cell.client]
            if client.group == "browser":
                await asyncio.shield(ready[client.engine])
            origin, on = origins[cell.server, cell.network], stages[cell.server]
            results[cell] = await run_cell(cell, variants[cell.variant], client, origin, on)
            on_result(results[cell], len(results), len(cells))

        together = [c for c in order if not runs_alone(c)]
        tasks = [asyncio.ensure_future(one(place, cell)) for place, cell in enumerate(together)]

        async def every_cell() -> None:
            await asyncio.gather(*tasks)
            for cell in (c for c in order if runs_alone(c)):
                await alone(cell)
            # A restart still under way when the last cell ended must succeed too: the
            # same cells give the same exit code, however they were scheduled.
            await server.running()
            for process in (running, *relays.values()):
                if process is not None:
                    await process.running()

        cells_done = asyncio.ensure_future(every_cell())
        broken = asyncio.ensure_future(server.broken.wait())
        apps = [p for p in (running, *relays.values()) if p is not None]
        app_broken = asyncio.ensure_future(_first_broken(apps))
        try:
            await asyncio.wait(
                {cells_done, broken, app_broken}, return_when=asyncio.FIRST_COMPLETED
            )
            for process in apps:
                if process.broken.is_set():
                    raise ServerError(process.failure)
            if not cells_done.done():
                raise ServerError(server.failure)
            cells_done.result()
        finally:
            for future in (cells_done, broken, app_broken, *tasks):
                future.cancel()
            await asyncio.gather(cells_done, broken, app_broken, *tasks, return_exceptions=True)
        metadata = {e: b.version or "not started" for e, b in browsers.items()}
    return which_hop([results[c] for c in cells], expected), metadata


async def _first_broken(apps: Sequence[AppProcess]) -> None:
    """Return once one of ``apps`` is broken (never, if there are none)."""
    waits = [asyncio.ensure_future(app.broken.wait()) for app in apps]
    try:
        if waits:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        else:
            await asyncio.Event().wait()
    finally:
        for wait in waits:
            wait.cancel()


async def _launch(browsers: Sequence[Engine]) -> None:
    await asyncio.gather(*(_up(browser) for browser in browsers))


async def _up(browser: Engine) -> None:
    with contextlib.suppress(ClientFailed):  # each browser cell reports it
        await browser.hub()


async def _warm(browser: Engine, origins: Iterable[str], jobs: int) -> None:
    """A browser up, with pages ready on each origin (``pages_ahead``); a failure is each
    of its cells'."""
    with contextlib.suppress(ClientFailed):
        hub = await browser.hub()
        pages = browser.pages_ahead(jobs)
        await asyncio.gather(*(hub.warm(o) for o in origins for _ in range(pages)))


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
    scenario = SCENARIOS[cell.scenario]
    if scenario.streams > 1:
        return await _run_many(cell, variant, client, origin, stage, scenario)
    replayed: list[str] = []
    while True:
        remaining = settings.deadline - (time.monotonic() - began)
        facts = await _attempt(variant, client, origin, stage, remaining, scenario)
        dropped = between and dropped_on_the_way(facts)
        # A browser's pool may hand the stream another idle connection, now and then.
        why = unpaced(facts) or new_connection(facts) or dropped
        limit = MAX_DROP_REPLAYS if why == dropped else MAX_REPLAYS
        if not why or len(replayed) >= limit or facts.timed_out or facts.server_died:
            break
        if settings.deadline - (time.monotonic() - began) < 2 * settings.hold_window:
            break
        replayed.append(why)
    facts.replayed = replayed
    facts.started_at = began if replayed else facts.started_at
    verdict, detail = judge(facts)
    first, p50, p99, duration = measure(facts)
    detail = with_pitfalls(cell, verdict, detail)
    return Result(cell, verdict, detail, first, p50, p99, duration, facts)


async def _run_many(
    cell: Cell, variant: Variant, client: Client, origin: str, stage: Stage, scenario: Scenario
) -> Result:
    """The streams of a many-streams cell at once, each in lockstep; none is paced before
    every request has reached the server, or a hold window has passed without the rest
    (``Rendezvous``), so that no stream ends while another still waits for a connection
    that only its end would free. Judged per stream (``judge_many``)."""
    rendezvous = Rendezvous(scenario.streams, stage.settings.hold_window)
    deadline = stage.settings.deadline
    streams = await asyncio.gather(
        *(
            _attempt(variant, client, origin, stage, deadline, scenario, rendezvous.arrive)
            for _ in range(scenario.streams)
        )
    )
    worst, verdict, detail = judge_many(list(streams))
    first, p50, p99, duration = measure(streams[worst])
    detail = with_pitfalls(cell, verdict, detail)
    return Result(cell, verdict, detail, first, p50, p99, duration, streams[worst])


async def _attempt(
    variant: Variant,
    client: Client,
    origin: str,
    stage: Stage,
    deadline: float,
    scenario: Scenario = SCENARIOS["stream"],
    arrived: Callable[[], Awaitable[None]] | None = None,
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
    elif scenario.keep_alive and (why := _no_keep_alive(client, stage)):
        facts.unsupported = why
    else:
        if stage.app is not None and not stage.app.app.relay:
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
            ca_file=stage.ca_file if url.startswith("https:") else "",
            first_url=f"{origin}/_sc/hello?stream={stream}" if scenario.keep_alive else "",
        )
        facts.keep_alive = scenario.keep_alive
        await play(lock, client, request, stream, stage, deadline, arrived)
    if stage.app is not None:
        await stage.app.annotate(facts, stream)
    facts.finished_at = facts.finished_at or time.monotonic()
    return facts


def _no_keep_alive(client: Client, stage: Stage) -> str:
    """Why the keep-alive scenario cannot be played with ``client`` here, if it cannot."""
    if stage.app is not None and not stage.app.app.relay:
        return "keep-alive: an app under test has no first request of ours (/_sc/hello)"
    if not client.keeps_connection:
        return (
            f"keep-alive: {client.name}'s driver cannot make a first request on the "
            "connection it then streams on (no session of its own to keep it in)"
        )
    return ""
