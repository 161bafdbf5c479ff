"""An asyncio event loop on a fake clock, for rules that depend on time.

Time moves only when the loop has nothing ready to run: then it jumps straight to the
next timer instead of waiting for it. So a hold window of one second passes in no
wall-clock time, a callback scheduled for t = 0.6 runs at exactly 0.6, and a busy
machine cannot change what a test sees. Code under test reads the same clock through
``FakeClockLoop.time`` (patch its module's ``time.monotonic`` with it).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: Real seconds to wait for I/O when no timer is due; only a test that waits on
#: something that never comes gets here, and it fails instead of hanging.
STUCK_BOUND_S = 10.0


class _JumpingSelector(selectors.DefaultSelector):
    """Never sleeps for a timer: reports no I/O and moves the loop's clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # nothing scheduled: only real I/O can move things on
            ready = super().select(STUCK_BOUND_S)
            if not ready:
                raise RuntimeError("fake clock: nothing scheduled and no I/O; the test is stuck")
            return ready
        self.now += timeout
        return []


class FakeClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


def run_on_fake_clock(main: Callable[[FakeClockLoop], Coroutine[Any, Any, T]]) -> T:
    """Run ``main(loop)`` to completion on a fresh fake-clock loop (t = 0 at the start)."""
    loop = FakeClockLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
