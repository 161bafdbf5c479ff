"""Lockstep: proving incremental delivery without sleeps, causally.

The server emits token k and waits. The client driver reports every unit it
surfaces, stamped by the client's own clock; once the text the user would see covers
tokens 1..k, the harness releases token k+1 (and after token n, the stream's end). If
token k has not been heard of, and nothing more of it either, within the hold window,
the harness takes a report barrier with the client (everything it reported before has
then arrived) and looks again. Only then does it record the stall and release the rest
at once, so the cell still ends and its content can be judged. Whether token k was
held back is decided afterwards from the client's own timestamps
(``harness.verdicts.held_back``): the hold window bounds the waiting, it is never the
evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from itertools import accumulate

from streamcompat.harness.kernel.codecs import DecodeError, Display
from streamcompat.harness.kernel.model import Barrier, Facts, Stop

Release = Callable[[int], None]
#: Entered while the cell only waits (a hold window): its working slot is lent out.
Idle = Callable[[], AbstractAsyncContextManager[None]]

#: Most tokens surface within milliseconds; a wait longer than this is probably a stall,
#: and the cell lends its working slot out for the rest of the hold window.
QUICK_S = 0.05

#: How long a report barrier may take; one that takes longer proves nothing either way,
#: so the harness keeps waiting (the cell deadline bounds it).
BARRIER_BOUND_S = 5.0


class Lockstep:
    """Records what a client surfaces (it is the driver's Reporter) and paces the server."""

    def __init__(
        self,
        tokens: list[str],
        display: Display,
        idle: Idle = contextlib.nullcontext,
        abort_after: int = 0,
    ) -> None:
        self.idle = idle
        self.facts = Facts(tokens=list(tokens), abort_after=abort_after)
        self.stop_requested = False  # read from drivers' threads: a bool, set once
        self.stop: Stop | None = None
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

    def spoke(self, protocol: str, sent_at: float | None = None) -> None:
        self._on_loop(self._spoke, protocol, sent_at or 0.0)

    def barrier_via(self, barrier: Barrier) -> None:
        self.barrier = barrier

    def stopping(self) -> bool:
        return self.stop_requested

    def stop_via(self, stop: Stop) -> None:
        self.stop = stop

    def aborted(self, at: float | None = None) -> None:
        self._on_loop(self._aborted, time.monotonic() if at is None else at)

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

    def _spoke(self, protocol: str, sent_at: float) -> None:
        if not self.closed:
            self.facts.protocol = protocol
            self.facts.sent_at = sent_at

    def _aborted(self, at: float) -> None:
        if not self.closed:
            self.facts.aborted_at = at
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
        done = f.ended or self.client_done or self.closed or bool(f.aborted_at)
        return len(f.surfaced_at) >= k or bool(f.diverged) or done

    async def pace(self, release: Release, hold_window: float, think: float = 0.0) -> None:
        """Release tokens one at a time as they surface, then the end; bounded by hold windows.

        ``think``: the model thinks this long before its first token (a reasoning model),
        unless the client gives up first; the cell only waits meanwhile. In the abort
        scenario, once the client has surfaced token ``abort_after`` it is asked to leave
        instead (``_ask_to_leave``); the end is then not released.
        """
        n = len(self.facts.tokens)
        if think > 0:
            async with self.idle():
                await self._wait(lambda: self.settled(1), think)
        k = 1
        while k <= n:
            if k == self.facts.abort_after + 1 and self.facts.abort_after:
                if await self._ask_to_leave(release, hold_window):
                    return
                break  # it did not leave: the rest at once, as after a stall
            if self.facts.fail_after == k - 1:
                await self._head_first(hold_window)
            self._release(release, k)
            if not await self._await_token(k, hold_window):
                self.facts.stalled_at = k
                break
            if len(self.facts.surfaced_at) < k:  # diverged or ended: stop pacing
                break
            k = len(self.facts.surfaced_at) + 1
        self._release(release, n + 1)  # whatever was held back, and the end, at once

    def release_rest(self, release: Release) -> None:
        """Release whatever is still held back, and the end, at once, as after a stall at
        the first token released and not surfaced: pacing was stopped (no response head
        came while the harness still held tokens back)."""
        n = len(self.facts.tokens)
        k = len(self.facts.surfaced_at) + 1
        if not self.facts.stalled_at and k <= min(n, len(self.facts.released_at)):
            self.facts.stalled_at = k
        self._release(release, n + 1)

    async def _head_first(self, hold_window: float) -> None:
        """Before the chain's failure goes out: let the client take its response head
        first (a hold window at most: a server may send none before its first bytes), so
        that a client refusing the response itself (its content type) is told apart from
        one told of the failure, whatever the timing. Tokens before it imply a head."""
        async with self.idle():
            await self._wait(self.head_heard, hold_window)

    async def _ask_to_leave(self, release: Release, hold_window: float) -> bool:
        """Ask the client to leave, and wait (a hold window at most, and a barrier) until it
        says it has; False if it has not, and the rest is released as in any stall.

        The next token goes out with the request: a driver blocked on its next read then
        returns from it and sees the request (``Reporter.stopping``); script clients are
        told once that token has reached them (``Reporter.stop_via``). Nothing after it is
        released: what the server does once the client has left is its own
        (``servers.control.Streams.settled``).
        """
        k = self.facts.abort_after + 1
        self.facts.stop_requested_at = time.monotonic()
        self.stop_requested = True
        self._release(release, k)

        def left() -> bool:
            return bool(self.facts.aborted_at) or self.client_done or self.closed

        if self.stop is not None:
            # A script client is told once token k+1 has reached it, as an in-process
            # driver sees the request once its read of it returns: the server has then
            # written it, and waits for the next when the client leaves.
            await self._wait(lambda: len(self.facts.surfaced_at) >= k or left(), hold_window)
            with contextlib.suppress(Exception):  # a broken channel: its driver says why
                await asyncio.wait_for(self.stop(), BARRIER_BOUND_S)

        if await self._wait(left, hold_window):
            return True
        await self._take_barrier()
        return left()

    async def head_within(self, window: float) -> bool:
        """True once the client reported its response head (or ended, or finished); False
        if ``window`` passed without one, and a report barrier then found none either."""

        if await self._wait(self.head_heard, window):
            return True
        await self._take_barrier()
        return self.head_heard()

    def head_heard(self) -> bool:
        """The client reported its response head, surfaced a unit (a body implies a head:
        axios reports its head only when the promise resolves, units long before), or it
        is over (ended, or finished)."""
        f = self.facts
        return f.opened or f.units > 0 or f.ended or self.client_done or self.closed

    def _release(self, release: Release, upto: int) -> None:
        release(upto)
        released_at = self.facts.released_at  # token k at index k-1; the end at index n
        now = time.monotonic()
        released_at.extend([now] * (upto - len(released_at)))

    async def _await_token(self, k: int, hold_window: float) -> bool:
        """Wait for token k; a hold window without any progress on it is a stall.

        Progress is shown text that extends the match: a long token arriving in many
        pieces is slow, not held back. Before a stall is declared, a report barrier
        makes sure that the client's reports are not merely still on their way.
        """
        settled = partial(self.settled, k)
        while True:
            before = self.matched
            if await self._wait(settled, min(QUICK_S, hold_window)):
                return True
            async with self.idle():
                arrived = await self._wait(settled, max(0.0, hold_window - QUICK_S))
            if arrived:
                return True
            barrier_held = await self._take_barrier()
            if self.settled(k):
                return True
            if barrier_held and self.matched == before:
                return False

    async def _take_barrier(self) -> bool:
        """Wait until every report the client queued so far has arrived; False if unsure."""
        if self.barrier is not None:
            self.facts.barriers += 1
            try:
                lead = await asyncio.wait_for(self.barrier(), BARRIER_BOUND_S)
            except asyncio.TimeoutError:
                return False
            except Exception:  # the client's channel broke: its driver reports why
                return True
            if lead is not None:  # each round trip bounds the client's clock: keep the best
                known = self.facts.clock_lead
                self.facts.clock_lead = lead if known is None else max(known, lead)
        # Reports from a driver's thread are queued on the loop: let them run.
        await asyncio.sleep(0)
        return True

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
        self.facts.client_done_at = self.facts.client_done_at or time.monotonic()
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
