"""Lockstep: proving incremental delivery without sleeps.

The server emits token k and waits. The client driver reports every unit it
surfaces; once the text the user would see covers tokens 1..k, the harness releases
token k+1. If token k has not surfaced, and nothing more of it either, within the hold
window, delivery is not incremental: the stall is recorded and the rest is released at
once, so the cell still ends and its content can still be judged.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import accumulate

from harness.codecs import DecodeError, Display
from harness.model import Barrier, Facts

Release = Callable[[int], Awaitable[None]]


class Lockstep:
    """Records what a client surfaces (it is the driver's Reporter) and paces the server."""

    def __init__(self, tokens: list[str], display: Display) -> None:
        self.facts = Facts(tokens=list(tokens))
        self.display = display
        self.expected = "".join(tokens)
        self.token_ends = list(accumulate(len(t) for t in tokens))
        self.matched = 0  # how much of the shown text equals the start of the expected text
        self.closed = False
        self.client_done = False
        self.changed = asyncio.Event()
        self.barrier: Barrier | None = None
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    # The Reporter interface: callable from the event loop or from a driver's thread.

    def requesting(self, at: float | None = None) -> None:
        self._on_loop(self._requesting, time.monotonic() if at is None else at)

    def opened(self, status: int, content_type: str, at: float | None = None) -> None:
        self._on_loop(self._opened, status, content_type)

    def surfaced(self, payload: str, at: float | None = None) -> None:
        self._on_loop(self._surfaced, payload, time.monotonic() if at is None else at)

    def ended(self, note: str = "", at: float | None = None, replays: bool = False) -> None:
        self._on_loop(self._ended, note, replays)

    def barrier_via(self, barrier: Barrier) -> None:
        self.barrier = barrier

    def _on_loop(self, fn: Callable[..., None], *args: object) -> None:
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _requesting(self, at: float) -> None:
        if not self.closed:
            self.facts.requested_at = at

    def _opened(self, status: int, content_type: str) -> None:
        if not self.closed:
            self.facts.opened, self.facts.status = True, status
            self.facts.content_type = content_type
            self.changed.set()

    def _ended(self, note: str, replays: bool) -> None:
        if not self.closed:
            self.facts.ended, self.facts.end_note, self.facts.replays = True, note, replays
            self.changed.set()

    def _surfaced(self, payload: str, at: float) -> None:
        facts = self.facts
        if self.closed:
            return
        facts.units += 1
        if facts.diverged:
            return
        try:
            text = self.display.feed(payload)
        except DecodeError as exc:
            facts.diverged = f"unit {facts.units} could not be decoded: {exc}"
            self.changed.set()
            return
        if not text:
            return
        facts.shown += text
        want = self.expected[self.matched : self.matched + len(text)]
        if text != want:
            facts.diverged = describe_difference(self.expected, facts.shown, self.token_ends)
        else:
            self.matched += len(text)
            while (
                len(facts.surfaced_at) < len(self.token_ends)
                and self.token_ends[len(facts.surfaced_at)] <= self.matched
            ):
                facts.surfaced_at.append(at)
        self.changed.set()

    # Pacing.

    def settled(self, k: int) -> bool:
        """True once token k surfaced, or waiting for it is pointless."""
        f = self.facts
        done = f.ended or self.client_done or self.closed
        return len(f.surfaced_at) >= k or bool(f.diverged) or done

    async def pace(self, release: Release, hold_window: float) -> None:
        """Release tokens one at a time as they surface; bounded by hold windows."""
        n = len(self.facts.tokens)
        k = 1
        while k <= n:
            await release(k)
            self.facts.released_at.append(time.monotonic())
            if not await self._await_token(k, hold_window):
                self.facts.stalled_at = k
                break
            if len(self.facts.surfaced_at) < k:  # diverged or ended: stop pacing
                break
            k = len(self.facts.surfaced_at) + 1
        await release(n)  # whatever was held back goes at once

    async def _await_token(self, k: int, hold_window: float) -> bool:
        """Wait for token k; a hold window without any progress on it is a stall.

        Progress is shown text that extends the match: a long token arriving in many
        pieces is slow, not held back.
        """
        while True:
            before = self.matched
            if await self._wait(partial(self.settled, k), hold_window):
                return True
            if self.matched == before:
                return False

    async def _wait(self, condition: Callable[[], bool], bound: float) -> bool:
        deadline = time.monotonic() + bound
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                return condition()
        return True

    def client_finished(self) -> None:
        self.client_done = True
        self.changed.set()

    def close(self) -> None:
        self.closed = True
        self.changed.set()


def describe_difference(expected: str, shown: str, token_ends: list[int]) -> str:
    """One sentence on where and how the shown text left the expected text."""
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, shown, strict=False)) if a != b),
        min(len(expected), len(shown)),
    )
    token = next((k for k, end in enumerate(token_ends, start=1) if end > at), len(token_ends))
    got = shown[at : at + 24]
    want = expected[at : at + 24]
    if not want:
        return f"extra text after the last token: {got!r}"
    hint = ""
    if any(marker in got for marker in ("data:", "event:", "\ufffd")):
        hint = " (framing leaked into the text)" if "\ufffd" not in got else " (mojibake)"
    return f"at token {token}, shown {got!r} where {want!r} was expected{hint}"
