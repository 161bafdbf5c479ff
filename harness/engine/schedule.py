"""When cells run: the order they start in, how many work at once, and who waits for whom.

Only timing depends on this module, never a verdict: stalls are judged causally (the
lockstep), so a cell that waits for its slot is not a cell that is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager

from streamcompat.harness.kernel.model import Cell

__all__ = [
    "IN_FLIGHT_PER_JOB",
    "QUICK_VERDICTS",
    "WAITING_VERDICTS",
    "Slots",
    "Turns",
    "client_threads",
    "default_jobs",
    "schedule",
    "usable_cpus",
]


def default_jobs() -> int:
    """Cells working at once: one per CPU this process may use, and one more to fill the
    gaps while round trips are in flight. More only queue each round trip behind others'
    (``nox -s bench`` measures it). Cells waiting out a hold window do not count (see
    ``Slots``), and verdicts do not depend on it (causal stalls)."""
    return usable_cpus() + 1


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


#: Verdicts of cells that wait out a hold window: scheduled first when a baseline says so.
WAITING_VERDICTS = frozenset({"BUFFERED", "SILENT", "TIMEOUT"})
#: Verdicts of the quickest cells (every token at once, or the client's own end): last.
QUICK_VERDICTS = frozenset({"PASS", "STOPPED", "TOLD"})


def schedule(
    cells: Sequence[Cell], expected: Mapping[str, str] | None, throttled: Collection[str] = ()
) -> list[Cell]:
    """The order cells start in, from what a baseline expects of them (only the order:
    verdicts do not depend on it). Cells that will wait out a hold window go first, so
    that their waits overlap other cells' work; the quickest go last, so that the run
    ends soon after its last cell starts (a cell that waits a second, started last, was
    the run's last second). Before all, a passing cell of a ``throttled`` client (one
    that hands its user a unit at most every so often: ``Client.unit_interval_s``): it
    takes that long per token. Otherwise in matrix order; without a baseline, unchanged."""
    expected = expected or {}

    def when(cell: Cell) -> int:
        verdict = expected.get(cell.key)
        if cell.client in throttled and verdict in QUICK_VERDICTS:
            return -1
        if verdict in WAITING_VERDICTS:
            return 0
        return 2 if verdict in QUICK_VERDICTS else 1

    return sorted(cells, key=when)


#: Cells in flight, waiting ones included, per working slot (pages, sockets, threads for
#: blocking clients stay bounded). A waiting cell costs a socket and no CPU: 4 per slot
#: left the cores idle while the first hold windows ran out.
IN_FLIGHT_PER_JOB = 8


class Turns:
    """A semaphore that serves its waiters in order of their place in the schedule
    (lowest first), not of arrival: a cell that queues late, or takes its slot back after
    a hold window, keeps its turn."""

    def __init__(self, size: int) -> None:
        self.free = max(1, size)
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    def locked(self) -> bool:
        return self.free == 0

    async def acquire(self, place: float = 0.0) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (place, next(self._arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # given the turn, but cancelled before taking it: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a waiter cancelled meanwhile left its future behind
                turn.set_result(None)
                return
        self.free += 1

    @contextlib.asynccontextmanager
    async def held(self, place: float = 0.0) -> AsyncIterator[None]:
        await self.acquire(place)
        try:
            yield
        finally:
            self.release()


class Slots:
    """Admits ``jobs`` working cells at once, in schedule order; a cell lends its slot out
    while it only waits out a hold window, so that a buffering client does not idle a core.

    Cells expected to wait (``waits``) take at most half the places in flight: queued
    first, they would otherwise take every place, and with a few cells that wait
    unexpectedly (a parser that drops an event), leave the cores idle for their hold
    windows."""

    def __init__(self, jobs: int) -> None:
        self.working = Turns(jobs)
        self.most_in_flight = max(1, jobs) * IN_FLIGHT_PER_JOB
        self.in_flight = Turns(self.most_in_flight)
        self.waiting = Turns(self.most_in_flight // 2)

    @contextlib.asynccontextmanager
    async def cell(
        self,
        connections: Turns | None = None,
        place: float = 0.0,
        waits: bool = False,
        server: Turns | None = None,
    ) -> AsyncIterator[Callable[[], AbstractAsyncContextManager[None]]]:
        """Hold a slot for one cell; yields ``idle``, to enter while the cell only waits.

        ``place`` is the cell's place in the schedule: lower goes first. ``connections``
        bounds the cells of one client runtime on one origin. It is taken before the
        working slot: a cell that holds a working slot never waits for a connection held
        by a cell that lent its slot out (that would deadlock). ``waits``: a baseline
        expects the cell to wait out a hold window. ``server`` bounds the cells on a server
        that serves few requests at once (``Server.at_once``), taken first, the same way.
        """
        holding = False

        @contextlib.asynccontextmanager
        async def idle() -> AsyncIterator[None]:
            nonlocal holding
            if holding:  # not if a step cancelled while taking it back left it without
                self.working.release()
                holding = False
            yield  # a cell cancelled or failing meanwhile leaves without its slot
            await self.working.acquire(place)
            holding = True

        async with (
            self.waiting.held(place) if waits else contextlib.nullcontext(),
            self.in_flight.held(place),
            server.held(place) if server else contextlib.nullcontext(),
            connections.held(place) if connections else contextlib.nullcontext(),
        ):
            await self.working.acquire(place)
            holding = True
            try:
                yield idle
            finally:
                if holding:  # not if cancelled while taking its slot back
                    self.working.release()


def client_threads(cells: int) -> None:
    """Threads enough for ``cells`` blocking clients at once, for this event loop's
    ``asyncio.to_thread``. A blocking client (requests) holds a thread for as long as its
    cell is in flight; with the default pool (CPUs + 4 threads) cells would wait for one
    while their clock runs, and a loaded run turn waiting cells into TIMEOUTs."""
    workers = cells + 4  # and a few for the harness's own waits (reaping children)
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(workers, thread_name_prefix="streamcompat")
    )
