"""One stream's play: drive the client, pace the server in lockstep, record the server's
side of it. The runner (``engine.runner``) decides which cells play, when, and how often.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from streamcompat.harness.engine.app import AppProcess
from streamcompat.harness.engine.lockstep import Idle, Lockstep
from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.engine.server import ServerError, ServerProcess
from streamcompat.harness.engine.server_life import ServerLife
from streamcompat.harness.hosts.processes import STOP_BOUND_S
from streamcompat.harness.kernel.model import Client, ClientFailed, Facts, Request, Resources
from streamcompat.harness.kernel.server_record import ServerRecord

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
    ca_file: str = ""  # the run's CA, where a network speaks TLS (``hosts.tls``)


class Rendezvous:
    """Where the streams of one cell wait for each other's requests to reach the server:
    until all have, or a hold window passed with no other arriving."""

    def __init__(self, streams: int, window: float) -> None:
        self.streams = streams
        self.window = window
        self.arrived = 0
        self.open = False
        self.changed = asyncio.Event()

    async def arrive(self) -> None:
        self.arrived += 1
        self.changed.set()
        while not self.open and self.arrived < self.streams:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), self.window)
            except asyncio.TimeoutError:
                break  # the rest wait for a connection that only an end would free
        self.open = True
        self.changed.set()


async def play(
    lock: Lockstep,
    client: Client,
    request: Request,
    stream: str,
    stage: Stage,
    deadline: float,
    arrived: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Drive the client and pace the server until the cell ends: the client finishes or
    fails, no response head comes within the head window, the deadline passes, or the
    server the cell runs on dies."""
    facts, settings = lock.facts, stage.settings
    life = await stage.server.running()
    life.expect(stream)
    task = asyncio.ensure_future(client.drive(request, lock, stage.resources.for_client(client)))
    task.add_done_callback(lambda _: lock.client_finished())

    async def play() -> None:
        # The hold window for token 1, and the head window, start when the request
        # reaches the server.
        started = asyncio.ensure_future(life.started(stream, settings.connect_window))
        first = asyncio.FIRST_COMPLETED
        try:
            await asyncio.wait({started, task}, timeout=settings.hold_window, return_when=first)
            if not started.done() and not task.done():
                # Queued behind other requests (a server whose workers are all busy): only
                # waiting, so the slot is lent out. A cell that holds one must not wait for
                # a worker held by a cell that lent its own (a deadlock until the head
                # window ends it), as with connections (``Slots.cell``).
                async with stage.idle():
                    await asyncio.wait({started, task}, return_when=first)
        finally:
            _drop(started)
        if started.done() and not started.cancelled() and started.result():
            facts.arrived_at = time.monotonic()
            if arrived is not None:  # the many-streams scenario: the others first
                await arrived()
            if not await _paced(lock, life, stream, stage):
                facts.no_head_within = settings.head_wait
                return
        elif not task.done():
            facts.no_head_within = settings.connect_window
            return
        # Everything is released (or the client left): it shows the rest and ends, or it
        # waits for an end that may not come until the deadline (a server that leaves a
        # failed stream open). A hold window holding the slot, then only waiting: lent.
        await asyncio.wait({task}, timeout=settings.hold_window)
        if not task.done():
            async with stage.idle():
                await asyncio.wait({task})
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
        if not (heard.done() and heard.result()):
            # No head yet. A server that sends its head only once its body is whole
            # (Django consuming an iterator of the wrong kind) has a whole head window
            # once everything is released, however long the harness took to get there
            # on a loaded machine (a wait for its working slot after a hold window): a
            # window that ran out while tokens were still held back proves nothing, so
            # the rest goes now, as after a stall, and the window starts again.
            _drop(heard)
            if not pacing.done():
                pacing.cancel()
                await asyncio.wait({pacing}, timeout=DRIVER_EXIT_BOUND_S)
                lock.release_rest(release)
            elif not pacing.cancelled():
                pacing.result()  # raise what it raised, if anything
            heard = asyncio.ensure_future(_head_within(lock, sent, settings.head_window))
            async with stage.idle():  # only waiting now: lend the working slot out
                if not await heard:
                    raise _NoHead  # leaves without taking the slot back: the cell is over
        if not heard.result():
            return False
        if not pacing.cancelled():  # (cut short above: nothing more to wait for)
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
    facts.connections = list(record.connections)
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
