"""Each scenario's release order, at the lockstep: what goes out to the server, when, and
what the client had done by then.

On a fake clock (tests/support/fake_clock.py), so a hold window passes in no wall-clock
time and every report lands at exactly the moment a test says. A release is recorded with
what the client had shown and reported at that moment; the client reacts to it afterwards,
as a real one does once the bytes reach it. In the error scenarios the release that lets
token ``fail_after + 1`` out is the chain's failure (``runner._paced``: ``fail_at``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar
from unittest.mock import patch

import pytest

from streamcompat.harness.engine import lockstep
from streamcompat.harness.engine.lockstep import Lockstep
from streamcompat.harness.kernel.codecs import Display
from streamcompat.harness.kernel.model import Verdict
from streamcompat.harness.kernel.scenarios import SCENARIOS
from streamcompat.harness.kernel.verdicts import judge
from tests.support.fake_clock import FakeClockLoop, run_on_fake_clock

TOKENS = ["t1", "t2", "t3", "t4", "t5", "t6"]
N = len(TOKENS)
END = N + 1  # the release of the stream's end: whatever was held back, and the end
HOLD = 1.0
K = 2  # abort_after / fail_after in these tests: the scenario's token k

T = TypeVar("T")


@dataclass(frozen=True)
class Released:
    """One release, and the client's state when it went out."""

    at: float
    upto: int
    surfaced: int  # tokens the client had surfaced
    opened: bool  # it had reported its response head
    stopping: bool  # it had been asked to leave


class Cell:
    """One cell's lockstep driven by a scripted client on the fake clock."""

    def __init__(
        self, loop: FakeClockLoop, abort_after: int = 0, fail_after: int | None = None
    ) -> None:
        self.loop = loop
        self.lock = Lockstep(TOKENS, Display("text", "chunk"), self.idle, abort_after)
        self.lock.facts.fail_after = fail_after
        self.released: list[Released] = []
        self.idled: list[tuple[float, float]] = []  # (from, to): the slot was lent out
        self.on_release: Callable[[int], None] = lambda upto: None

    def release(self, upto: int) -> None:
        f = self.lock.facts
        self.released.append(
            Released(self.loop.time(), upto, len(f.surfaced_at), f.opened, self.lock.stopping())
        )
        self.on_release(upto)

    @contextlib.asynccontextmanager
    async def idle(self) -> AsyncIterator[None]:
        began = self.loop.time()
        try:
            yield
        finally:
            self.idled.append((began, self.loop.time()))

    def at(self, t: float, fn: Callable[..., object], *args: object) -> None:
        self.loop.call_at(t, fn, *args)

    def later(self, delay: float, fn: Callable[..., object], *args: object) -> None:
        self.loop.call_later(delay, fn, *args)

    def surfaces_each_token(self, delay: float = 0.01, upto: int = N) -> None:
        """The client shows each released token ``delay`` after it went out (up to token
        ``upto``), as an incremental client does."""

        def shown(k: int) -> None:
            if k <= min(upto, N) and len(self.lock.facts.surfaced_at) < k:
                self.lock.surfaced(TOKENS[k - 1])

        self.on_release = lambda k: self.later(delay, shown, k)

    def fails(self, why: str) -> None:
        """The client's driver raised (the runner records its error, then finishes it)."""
        self.lock.facts.failure = why
        self.lock.client_finished()

    def uptos(self) -> list[int]:
        return [r.upto for r in self.released]

    def when(self, upto: int) -> Released:
        return next(r for r in self.released if r.upto == upto)


def play(
    setup: Callable[[Cell], None],
    *,
    abort_after: int = 0,
    fail_after: int | None = None,
    think: float = 0.0,
) -> Cell:
    """Pace a cell whose client ``setup`` scripts; the request is made at t = 0.001."""

    async def main(loop: FakeClockLoop) -> Cell:
        with patch.object(lockstep, "time", SimpleNamespace(monotonic=loop.time)):
            cell = Cell(loop, abort_after, fail_after)
            cell.lock.requesting(0.001)
            setup(cell)
            await asyncio.wait_for(cell.lock.pace(cell.release, HOLD, think), 60)
            return cell

    return run_on_fake_clock(main)


def on_fake_clock(scenario: Callable[[FakeClockLoop], Coroutine[Any, Any, T]]) -> T:
    async def main(loop: FakeClockLoop) -> T:
        with patch.object(lockstep, "time", SimpleNamespace(monotonic=loop.time)):
            return await scenario(loop)

    return run_on_fake_clock(main)


def test_the_scenarios_these_tests_model() -> None:
    """The records the runner hands the lockstep: abort asks after token k, error fails
    after token k, error-first before token 1, stream neither."""
    assert (SCENARIOS["stream"].abort_after, SCENARIOS["stream"].fail_after) == (0, None)
    assert SCENARIOS["abort"].abort_after > 0 and SCENARIOS["abort"].fail_after is None
    assert SCENARIOS["error"].fail_after == SCENARIOS["abort"].abort_after > 0
    assert (SCENARIOS["error-first"].abort_after, SCENARIOS["error-first"].fail_after) == (0, 0)


# stream: token k+1 goes out only once token k surfaced; after a stall, the rest at once.


def test_stream_each_token_goes_out_only_once_the_one_before_surfaced() -> None:
    delays = [0.3, 0.01, 0.9, 0.5, 0.2, 0.7]  # each within the hold window

    def setup(cell: Cell) -> None:
        def shown(k: int) -> None:
            cell.lock.surfaced(TOKENS[k - 1])

        cell.on_release = lambda k: cell.later(delays[k - 1], shown, k) if k <= N else None

    cell = play(setup)
    assert cell.uptos() == [*range(1, N + 1), END]
    surfaced = cell.lock.facts.surfaced_at
    for k in range(1, N + 1):  # the next release: the moment token k surfaced, not before
        after = cell.released[k]
        assert after.surfaced == k and after.at == pytest.approx(surfaced[k - 1]), after
    assert cell.lock.facts.stalled_at == 0


def test_stream_a_stall_lets_the_rest_go_at_once_after_one_hold_window() -> None:
    cell = play(lambda cell: cell.surfaces_each_token(upto=2))
    assert cell.uptos() == [1, 2, 3, END]  # never token 4 on its own
    assert cell.lock.facts.stalled_at == 3
    assert cell.when(END).at == pytest.approx(cell.when(3).at + HOLD)
    assert cell.idled and cell.idled[-1][1] == pytest.approx(cell.when(END).at)


def test_stream_the_end_goes_out_only_once_the_last_token_surfaced() -> None:
    cell = play(lambda cell: cell.surfaces_each_token(delay=0.4))
    end = cell.when(END)
    assert end.surfaced == N and end.at == pytest.approx(cell.lock.facts.surfaced_at[-1])


# abort: once token k surfaced, the client is asked to leave with token k+1, and nothing
# after token k+1 goes out while it does.


def leaves_when_asked(cell: Cell, after: float = 0.05) -> None:
    """An in-process client: it shows each token, and leaves once its read returns with
    the request to leave (``Reporter.stopping``)."""
    cell.surfaces_each_token()
    shows = cell.on_release

    def on_release(upto: int) -> None:
        shows(upto)
        if cell.lock.stopping():
            cell.later(after, cell.lock.aborted)

    cell.on_release = on_release


def test_abort_the_request_to_leave_goes_out_with_token_k_plus_1() -> None:
    cell = play(leaves_when_asked, abort_after=K)
    assert cell.uptos() == [*range(1, K + 2)]  # token k+1, then nothing: not the end
    assert [r.stopping for r in cell.released] == [False] * K + [True]
    asked = cell.when(K + 1)
    assert asked.surfaced == K  # only once token k had surfaced
    assert cell.lock.facts.stop_requested_at == asked.at
    assert cell.lock.facts.aborted_at == pytest.approx(asked.at + 0.05)


def test_abort_a_client_that_does_not_leave_gets_the_rest_after_a_window_and_a_barrier() -> None:
    barriers: list[float] = []

    def setup(cell: Cell) -> None:
        cell.surfaces_each_token()  # and it never leaves

        async def barrier() -> None:
            barriers.append(cell.loop.time())

        cell.lock.barrier_via(barrier)

    cell = play(setup, abort_after=K)
    asked = cell.when(K + 1)
    assert cell.uptos() == [*range(1, K + 2), END]
    assert barriers == [pytest.approx(asked.at + HOLD)]
    assert cell.when(END).at == pytest.approx(asked.at + HOLD)  # after the barrier
    verdict, detail = judge(cell.lock.facts)
    assert verdict is Verdict.ERROR and "did not say it had left" in detail, detail


def test_abort_a_leave_report_still_in_the_channel_is_found_by_the_barrier() -> None:
    def setup(cell: Cell) -> None:
        cell.surfaces_each_token()
        queued: list[Callable[[], None]] = []

        async def barrier() -> None:  # what the client queued before it arrives first
            for report in queued:
                report()

        cell.lock.barrier_via(barrier)
        shows = cell.on_release

        def on_release(upto: int) -> None:
            shows(upto)
            if cell.lock.stopping():
                queued.append(cell.lock.aborted)  # left at once; the report is late

        cell.on_release = on_release

    cell = play(setup, abort_after=K)
    assert cell.uptos() == [*range(1, K + 2)]  # it had left: the rest never went out
    assert cell.lock.facts.aborted_at == pytest.approx(cell.when(K + 1).at + HOLD)


@pytest.mark.parametrize(
    ("surfaces_k_plus_1_after", "told_after"),
    [(0.4, 0.4), (None, HOLD)],  # token k+1 reached it; or it never showed: a window
)
def test_abort_a_script_client_is_told_to_leave_once_token_k_plus_1_reached_it(
    surfaces_k_plus_1_after: float | None, told_after: float
) -> None:
    told: list[tuple[float, int]] = []  # when, and how many tokens it had shown

    def setup(cell: Cell) -> None:
        def on_release(upto: int) -> None:
            if upto <= K:
                cell.later(0.01, cell.lock.surfaced, TOKENS[upto - 1])
            elif upto == K + 1 and surfaces_k_plus_1_after is not None:
                cell.later(surfaces_k_plus_1_after, cell.lock.surfaced, TOKENS[K])

        async def stop() -> None:  # the page or the Node host closes what its user would
            told.append((cell.loop.time(), len(cell.lock.facts.surfaced_at)))
            cell.later(0.02, cell.lock.aborted)

        cell.on_release = on_release
        cell.lock.stop_via(stop)

    cell = play(setup, abort_after=K)
    asked = cell.when(K + 1)
    shown = K if surfaces_k_plus_1_after is None else K + 1
    assert told == [(pytest.approx(asked.at + told_after), shown)]
    assert cell.uptos() == [*range(1, K + 2)]


def test_abort_a_client_that_never_shows_token_k_is_never_asked_to_leave() -> None:
    cell = play(lambda cell: cell.surfaces_each_token(upto=K - 1), abort_after=K)
    assert cell.uptos() == [*range(1, K + 1), END]  # a stall at token k, as in stream
    assert not any(r.stopping for r in cell.released) and not cell.lock.stopping()
    assert cell.lock.facts.stop_requested_at == 0
    assert "not asked to leave" in judge(cell.lock.facts)[1]


# error: the failure goes out once token k surfaced, and after the head.


def opens_then_raises_on_the_failure(cell: Cell) -> None:
    """Head at t = 0.005, before token 1 shows; each token shown; the failure cut
    (release k+1) makes it raise."""
    cell.at(0.005, cell.lock.opened, 200, "text/plain")
    cell.surfaces_each_token(upto=K)
    shows = cell.on_release

    def on_release(upto: int) -> None:
        shows(upto)
        if upto == K + 1:
            cell.later(0.03, cell.fails, "ChunkedEncodingError: Response ended prematurely")

    cell.on_release = on_release


def test_error_the_failure_goes_out_once_token_k_surfaced_and_is_told() -> None:
    cell = play(opens_then_raises_on_the_failure, fail_after=K)
    assert cell.uptos() == [*range(1, K + 2), END]
    failure = cell.when(K + 1)
    assert failure.surfaced == K and failure.opened
    assert failure.at == pytest.approx(cell.lock.facts.surfaced_at[K - 1])
    assert cell.when(END).at == pytest.approx(failure.at + 0.03)  # once the client was done
    verdict, detail = judge(cell.lock.facts)
    assert verdict is Verdict.TOLD, detail
    assert detail.startswith(f"the chain failed after token {K}; the client raised: Chunked")


def test_error_a_client_holding_tokens_back_gets_the_failure_only_with_the_rest() -> None:
    def setup(cell: Cell) -> None:  # a line reader: shows nothing until the body ends
        cell.at(0.05, cell.lock.opened, 200, "text/plain")

    cell = play(setup, fail_after=K)
    assert cell.uptos() == [1, END]  # the failure never went out on its own
    assert cell.lock.facts.stalled_at == 1
    assert cell.when(END).at == pytest.approx(cell.when(1).at + HOLD)


# error-first: nothing goes out, not the failure either, before the client's head is heard;
# a head never heard lets the failure out after one hold window.


@pytest.mark.parametrize("head_at", [0.001, 0.4, 0.95])
def test_error_first_nothing_goes_out_before_the_head_is_heard(head_at: float) -> None:
    cell = play(lambda cell: cell.at(head_at, cell.lock.opened, 200, "text/plain"), fail_after=0)
    first = cell.released[0]
    assert (first.upto, first.opened) == (1, True)
    assert first.at == pytest.approx(head_at)
    assert cell.idled[0] == (0.0, pytest.approx(head_at))  # only waiting: the slot lent out


def test_error_first_a_head_never_heard_lets_the_failure_out_after_one_window() -> None:
    cell = play(lambda cell: None, fail_after=0)  # GZipMiddleware: no head before its bytes
    first = cell.released[0]
    assert (first.upto, first.opened) == (1, False)
    assert first.at == pytest.approx(HOLD)
    assert cell.idled[0] == (0.0, pytest.approx(HOLD))


@pytest.mark.parametrize(
    "over",
    [
        pytest.param(lambda lock: lock.ended("end data"), id="it ended"),
        pytest.param(lambda lock: lock.client_finished(), id="it failed before any head"),
    ],
)
def test_error_first_a_client_that_is_over_needs_no_head(over: Callable[[Lockstep], None]) -> None:
    cell = play(lambda cell: cell.at(0.3, over, cell.lock), fail_after=0)
    assert cell.released[0].upto == 1 and cell.released[0].at == pytest.approx(0.3)


def test_error_first_the_failure_after_the_head_is_told() -> None:
    def setup(cell: Cell) -> None:  # sse × requests: head, then the cut body raises
        cell.at(0.2, cell.lock.opened, 200, "text/event-stream")
        cell.on_release = lambda upto: (
            cell.later(0.01, cell.fails, "ChunkedEncodingError") if upto == 1 else None
        )

    cell = play(setup, fail_after=0)
    verdict, detail = judge(cell.lock.facts)
    assert verdict is Verdict.TOLD, detail
    assert "failed before its first token; the client raised: ChunkedEncodingError" in detail


@pytest.mark.parametrize("refused_at", [0.001, 0.2, 0.95])
def test_error_first_a_client_refusing_the_response_keeps_its_own_verdict(
    refused_at: float,
) -> None:
    """httpx-sse (and EventSource) × text/plain: it refuses the content type without
    reporting a head (``with_httpx.events`` checks it first, as ``aiter_sse()`` does), and
    its driver returns a moment later. The failure goes out only once it is over, so its
    verdict is its own, ERROR, whatever that moment (docs/scenarios.md: "whatever the
    timing"); before the driver's fix a head was reported first, and alone the cell was
    TOLD."""

    def setup(cell: Cell) -> None:
        cell.at(refused_at, cell.fails, "SSEError: Expected response header Content-Type")

    cell = play(setup, fail_after=0)
    assert cell.released[0].at == pytest.approx(refused_at)
    verdict, detail = judge(cell.lock.facts)
    assert verdict is Verdict.ERROR, detail


# think: nothing goes out before the model has thought, unless the client gave up first.


@pytest.mark.parametrize(
    ("head_at", "first_at"),
    [(2.0, 6.0), (None, 6.0 + HOLD)],  # the head window starts once the model has thought
)
def test_think_then_error_first_waits_for_the_head_after_the_think(
    head_at: float | None, first_at: float
) -> None:
    def setup(cell: Cell) -> None:
        if head_at is not None:
            cell.at(head_at, cell.lock.opened, 200, "text/event-stream")

    cell = play(setup, fail_after=0, think=6.0)
    assert cell.released[0].upto == 1 and cell.released[0].at == pytest.approx(first_at)


def test_think_nothing_goes_out_while_the_model_thinks_and_the_slot_is_lent() -> None:
    cell = play(lambda cell: cell.surfaces_each_token(), think=6.0)
    assert cell.released[0].at == pytest.approx(6.0)
    assert cell.idled[0] == (0.0, pytest.approx(6.0))
    assert cell.uptos() == [*range(1, N + 1), END]


@pytest.mark.parametrize(
    "gives_up",
    [
        pytest.param(lambda lock: lock.client_finished(), id="its read timed out"),
        pytest.param(lambda lock: lock.ended(), id="it ended"),
        pytest.param(lambda lock: lock.surfaced(": ping"), id="it showed a heartbeat as text"),
    ],
)
def test_think_a_client_that_gives_up_ends_the_think(gives_up: Callable[[Lockstep], None]) -> None:
    cell = play(lambda cell: cell.at(4.0, gives_up, cell.lock), think=6.0)
    assert cell.released[0].at == pytest.approx(4.0)
    assert cell.uptos() == [1, END]
    assert cell.when(END).at == pytest.approx(4.0)  # waiting on would be pointless
