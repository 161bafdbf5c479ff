"""A blocking client's thread is stopped when its run's deadline passes, and only then."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from streamcompat.harness.engine.overrun import Overran, StoppableThreads, deadline

#: How long the spinning call would run if it were never stopped (the test then fails).
SPIN_BOUND_S = 30.0
WAIT_S = 10.0


def spins(running: threading.Event, outcome: queue.Queue[str]) -> None:
    """Pure Python work with no reads: only an exception raised in the thread ends it early."""
    running.set()
    try:
        end = time.monotonic() + SPIN_BOUND_S
        while time.monotonic() < end:
            pass
        outcome.put("ran out")
    except Overran:
        outcome.put("stopped")
        raise


def test_a_call_past_its_deadline_is_stopped_in_its_thread() -> None:
    running, outcome = threading.Event(), queue.Queue[str]()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(StoppableThreads())
        with deadline() as run:
            call = asyncio.ensure_future(asyncio.to_thread(spins, running, outcome))
            assert await loop.run_in_executor(None, running.wait, WAIT_S)
            assert run.stop() >= 1  # the spinning thread (the waiter may not have left yet)
            with pytest.raises(Overran):
                await asyncio.wait_for(call, WAIT_S)

    began = time.monotonic()
    asyncio.run(main())
    assert outcome.get(timeout=WAIT_S) == "stopped"
    assert time.monotonic() - began < SPIN_BOUND_S / 2


def test_calls_that_end_in_time_are_untouched_and_a_late_start_never_runs() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(StoppableThreads())
        with deadline() as run:
            assert await asyncio.to_thread(sum, [1, 2]) == 3
            with pytest.raises(ZeroDivisionError):  # a call's own failure is its own
                await asyncio.to_thread(divmod, 1, 0)
            assert run.stop() == 0  # nothing left working for the run
            ran: list[str] = []
            with pytest.raises(Overran):
                await asyncio.to_thread(ran.append, "late")
            assert ran == []
        # Outside any deadline a call runs as on any executor.
        assert await asyncio.to_thread(sum, [4]) == 4

    asyncio.run(main())


def test_each_run_stops_only_its_own_threads() -> None:
    running = [threading.Event(), threading.Event()]
    outcomes = [queue.Queue[str](), queue.Queue[str]()]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(StoppableThreads())
        runs = []
        calls = []
        for k in range(2):
            with deadline() as run:
                runs.append(run)
                call = asyncio.to_thread(spins, running[k], outcomes[k])
                calls.append(asyncio.ensure_future(call))
        for k in range(2):
            assert await loop.run_in_executor(None, running[k].wait, WAIT_S)
        runs[0].stop()
        with pytest.raises(Overran):
            await asyncio.wait_for(calls[0], WAIT_S)
        assert outcomes[0].get(timeout=WAIT_S) == "stopped"
        assert outcomes[1].empty() and not calls[1].done()
        runs[1].stop()
        with pytest.raises(Overran):
            await asyncio.wait_for(calls[1], WAIT_S)

    asyncio.run(main())
    assert outcomes[1].get(timeout=WAIT_S) == "stopped"
