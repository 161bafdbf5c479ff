"""The lockstep gate: release on surfacing, hold-window expiry, barriers, release-the-rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeVar
from unittest.mock import patch

import pytest

from streamcompat.harness.engine import lockstep
from streamcompat.harness.engine.lockstep import Lockstep
from streamcompat.harness.kernel.codecs import Display
from streamcompat.harness.kernel.model import Verdict
from streamcompat.harness.kernel.verdicts import judge
from tests.support.fake_clock import FakeClockLoop, run_on_fake_clock

TOKENS = ["a", "b", "c", "d"]
HOLD = 0.2


def play(
    client: Callable[[Lockstep, int], None], tokens: list[str] = TOKENS
) -> tuple[Lockstep, list[int]]:
    """Pace a fake server; ``client(lock, upto)`` is told each release and may surface."""
    releases: list[int] = []

    async def main() -> Lockstep:
        lock = Lockstep(tokens, Display("text", "chunk"))

        def release(upto: int) -> None:
            releases.append(upto)
            asyncio.get_running_loop().call_soon(client, lock, upto)

        await asyncio.wait_for(lock.pace(release, HOLD), 5)
        return lock

    return asyncio.run(main()), releases


def test_incremental_client_gets_one_token_per_release() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if len(lock.facts.surfaced_at) < upto:
            lock.surfaced(TOKENS[upto - 1])

    lock, releases = play(client)
    assert releases == [1, 2, 3, 4, 5]  # 5: the end
    assert lock.facts.stalled_at == 0
    assert len(lock.facts.surfaced_at) == 4 and lock.facts.shown == "abcd"


def test_buffering_client_stalls_at_token_one_then_gets_the_rest() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto > len(TOKENS):
            lock.surfaced("".join(TOKENS))

    lock, releases = play(client)
    assert releases == [1, 5]
    assert lock.facts.stalled_at == 1
    assert lock.facts.shown == "abcd"


def test_client_that_stops_midway_stalls_there() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto <= 2:
            lock.surfaced(TOKENS[upto - 1])

    lock, releases = play(client)
    assert releases == [1, 2, 3, 5]
    assert lock.facts.stalled_at == 3
    assert len(lock.facts.surfaced_at) == 2


def test_divergence_stops_pacing_without_a_stall() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto == 1:
            lock.surfaced("data: a\n\n")

    lock, releases = play(client)
    assert releases == [1, 5]
    assert lock.facts.stalled_at == 0
    assert "framing leaked" in lock.facts.diverged


def test_several_tokens_in_one_unit_count_as_surfaced_together() -> None:
    lock, _ = play(lambda lock, upto: None)  # nothing surfaces
    assert lock.facts.stalled_at == 1
    lock2 = asyncio.run(_fed(["ab", "c", "d"]))
    assert len(lock2.facts.surfaced_at) == 4
    assert lock2.facts.surfaced_at[0] == lock2.facts.surfaced_at[1]


async def _fed(payloads: list[str]) -> Lockstep:
    lock = Lockstep(TOKENS, Display("text", "chunk"))
    for p in payloads:
        lock.surfaced(p)
    return lock


def test_reports_after_close_are_ignored() -> None:
    async def main() -> Lockstep:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        lock.surfaced("a")
        lock.close()
        lock.surfaced("b")
        return lock

    lock = asyncio.run(main())
    assert lock.facts.shown == "a" and lock.facts.units == 1


def test_reports_from_a_driver_thread_reach_the_loop() -> None:
    async def main() -> Lockstep:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        await asyncio.to_thread(lambda: [lock.surfaced(t) for t in TOKENS])
        await asyncio.wait_for(lock._wait(lambda: lock.settled(4), 5), 5)
        return lock

    assert asyncio.run(main()).facts.shown == "abcd"


def test_release_times_are_kept_per_token_and_for_the_end() -> None:
    lock, releases = play(lambda lock, upto: None)  # nothing surfaces: stall at 1
    released = lock.facts.released_at
    assert releases == [1, 5] and len(released) == 5  # tokens 1..4 and the end
    assert released[0] < released[1] == released[4]  # the rest went at once


def test_a_report_still_in_the_channel_is_found_by_the_barrier_not_a_stall() -> None:
    # The client surfaced token 1 at once, but its report sits in the channel until the
    # harness takes a barrier: the harness must not call that a stall.
    async def main() -> tuple[Lockstep, list[int]]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        queued: list[tuple[str, float]] = []
        releases: list[int] = []

        async def barrier() -> None:
            for payload, at in queued:
                lock.surfaced(payload, at)
            queued.clear()

        def release(upto: int) -> None:
            releases.append(upto)
            if upto <= len(TOKENS):
                queued.append((TOKENS[upto - 1], time.monotonic()))

        lock.barrier_via(barrier)
        await asyncio.wait_for(lock.pace(release, HOLD), 10)
        return lock, releases

    lock, releases = asyncio.run(main())
    assert lock.facts.stalled_at == 0 and lock.facts.shown == "abcd"
    assert releases == [1, 2, 3, 4, 5] and lock.facts.barriers == 4


def test_the_barriers_keep_the_tightest_bound_on_the_clients_clock() -> None:
    # Each barrier's round trip bounds how far behind the client's clock may read; the
    # cell keeps the best of them (verdicts.clock_slack), whatever order they came in.
    async def main() -> Lockstep:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        leads = iter([-0.004, -0.001, -0.003, None])
        queued: list[str] = []

        async def barrier() -> float | None:
            for payload in queued:
                lock.surfaced(payload)
            queued.clear()
            return next(leads, None)

        def release(upto: int) -> None:
            if upto <= len(TOKENS):
                queued.append(TOKENS[upto - 1])

        lock.barrier_via(barrier)
        await asyncio.wait_for(lock.pace(release, HOLD), 10)
        return lock

    lock = asyncio.run(main())
    assert lock.facts.barriers == 4 and lock.facts.clock_lead == -0.001


def test_a_barrier_that_does_not_answer_means_keep_waiting_not_stall() -> None:
    async def main() -> Lockstep:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        never = asyncio.Event()
        answered: list[bool] = []

        async def barrier() -> None:
            if not answered:  # the first barrier hangs (bounded by BARRIER_BOUND_S) ...
                answered.append(False)
                await never.wait()

        def release(upto: int) -> None:
            if upto == 1:  # ... meanwhile the client's report of token 1 arrives
                loop.call_later(HOLD * 1.5, lock.surfaced, "abcd")

        loop = asyncio.get_running_loop()
        lock.barrier_via(barrier)
        with patch.object(lockstep, "BARRIER_BOUND_S", HOLD):
            await asyncio.wait_for(lock.pace(release, HOLD), 10)
        return lock

    lock = asyncio.run(main())
    assert lock.facts.stalled_at == 0 and lock.facts.shown == "abcd"


def test_a_report_that_lands_as_the_window_closes_is_not_a_stall() -> None:
    # No barrier (an in-process driver): the harness looks again after the window, so a
    # report that arrived as it closed still counts.
    async def main() -> Lockstep:
        lock = Lockstep(["a"], Display("text", "chunk"))

        def release(upto: int) -> None:
            pass

        real_wait = lock._wait

        async def wait_then_report(condition: Callable[[], bool], bound: float) -> bool:
            await real_wait(condition, bound)
            lock.surfaced("a", time.monotonic())  # arrives via the loop, right after
            return False

        with patch.object(lock, "_wait", wait_then_report):
            await asyncio.wait_for(lock.pace(release, HOLD), 5)
        return lock

    lock = asyncio.run(main())
    assert lock.facts.stalled_at == 0


# On a fake clock (tests/support/fake_clock.py): hold windows pass in no wall-clock time, and
# every report lands at exactly the moment the test says.

T = TypeVar("T")


def on_fake_clock(scenario: Callable[[FakeClockLoop], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario(loop)`` with the lockstep reading the loop's fake clock."""

    async def main(loop: FakeClockLoop) -> T:
        with patch.object(lockstep, "time", SimpleNamespace(monotonic=loop.time)):
            return await scenario(loop)

    return run_on_fake_clock(main)


def test_wait_looks_again_when_its_bound_runs_out() -> None:
    # Something that came true as the bound ran out, with no change signalled (a report
    # that landed as the timer fired), still counts: the bound ends waiting, not looking.
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        came_true: list[bool] = []
        loop.call_at(0.5, came_true.append, True)  # lock.changed is never set
        return await lock._wait(lambda: bool(came_true), 0.5), loop.time()

    assert on_fake_clock(scenario) == (True, 0.5)


def test_wait_gives_up_at_its_bound() -> None:
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        return await lock._wait(lambda: False, 0.5), loop.time()

    assert on_fake_clock(scenario) == (False, 0.5)


LONG = "abcdefghij"  # a long token; the client surfaces it a character at a time


def pieces_then_k(upto_piece: int) -> tuple[Lockstep, list[int]]:
    """Pace [LONG, "k"] with a hold window of 1 s; the client surfaces the first
    ``upto_piece`` characters of LONG 0.7 s apart, so the whole token takes longer than a
    window but every window sees some of it; then "k" as soon as it is released."""

    async def scenario(loop: FakeClockLoop) -> tuple[Lockstep, list[int]]:
        lock = Lockstep([LONG, "k"], Display("text", "chunk"))
        releases: list[int] = []

        def piece(i: int) -> None:
            lock.surfaced(LONG[i])
            if i + 1 < upto_piece:
                loop.call_later(0.7, piece, i + 1)

        def release(upto: int) -> None:
            releases.append(upto)
            if upto == 1:
                loop.call_later(0.7, piece, 0)
            elif upto == 2:
                loop.call_soon(lock.surfaced, "k")

        await lock.pace(release, 1.0)
        return lock, releases

    return on_fake_clock(scenario)


def test_a_long_token_still_arriving_is_slow_not_a_stall() -> None:
    lock, releases = pieces_then_k(len(LONG))
    assert lock.facts.stalled_at == 0
    assert releases == [1, 2, 3]  # token 2 only once token 1 had surfaced whole
    assert lock.facts.surfaced_at[0] == pytest.approx(7.0)  # ten pieces, 0.7 s apart
    assert lock.facts.released_at[1] == pytest.approx(7.0)


def test_a_long_token_that_stops_arriving_is_a_stall_one_window_later() -> None:
    lock, releases = pieces_then_k(5)  # the last piece at 3.5 s; the window 4..5 s is empty
    assert lock.facts.stalled_at == 1
    assert releases == [1, 3]
    assert lock.facts.released_at[1] == pytest.approx(5.0)
    assert lock.facts.shown == LONG[:5]


@pytest.mark.parametrize(
    ("surfaced_at", "verdict", "words"),
    [
        # surfaced before token 2 was released (1.0 s), heard of only at 1.5 s
        (0.2, Verdict.PASS, "surfaced it 800 ms before the next bytes were produced"),
        # surfaced after token 2 was released: held back, whenever the report arrived
        (1.2, Verdict.BUFFERED, "surfaced it 200 ms after token 2 was produced"),
    ],
)
def test_the_clients_own_timestamps_decide_not_when_its_reports_arrive(
    surfaced_at: float, verdict: Verdict, words: str
) -> None:
    async def scenario(loop: FakeClockLoop) -> Lockstep:
        lock = Lockstep(["a", "b", "c"], Display("text", "chunk"))
        lock.requesting(0.01)

        def release(upto: int) -> None:
            if upto == 1:  # the report of token 1 is late: after the window (and stall)
                loop.call_at(1.5, lock.surfaced, "a", surfaced_at)
            else:  # the rest at once
                loop.call_at(1.6, lock.surfaced, "bc", 1.55)

        await lock.pace(release, 1.0)
        assert await lock._wait(lambda: lock.settled(3), 5.0)
        lock.ended()
        return lock

    facts = on_fake_clock(scenario).facts
    assert facts.requested_at == 0.01
    assert facts.stalled_at == 1
    assert facts.surfaced_at == [surfaced_at, 1.55, 1.55]
    assert facts.released_at == pytest.approx([0.0, 1.0, 1.0, 1.0])
    found, detail = judge(facts)
    assert found is verdict and words in detail, detail


# The head window: a response head the client reports, or none.


def test_a_head_reported_in_the_window_is_a_head() -> None:
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        loop.call_at(1.5, lock.opened, 200, "text/plain")
        return await lock.head_within(2.0), loop.time()

    assert on_fake_clock(scenario) == (True, 1.5)


def test_no_head_in_the_window_is_none_after_a_barrier() -> None:
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float, int]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))

        async def barrier() -> None:
            pass  # nothing was queued

        lock.barrier_via(barrier)
        return await lock.head_within(2.0), loop.time(), lock.facts.barriers

    assert on_fake_clock(scenario) == (False, 2.0, 1)


def test_a_head_report_still_in_the_channel_is_found_by_the_barrier() -> None:
    async def scenario(loop: FakeClockLoop) -> bool:
        lock = Lockstep(TOKENS, Display("text", "chunk"))

        async def barrier() -> None:
            lock.opened(200, "text/plain")  # queued by the client before the barrier

        lock.barrier_via(barrier)
        return await lock.head_within(2.0)

    assert on_fake_clock(scenario) is True


def test_a_unit_before_any_head_report_is_a_head() -> None:
    # axios reports its head when its promise resolves; onDownloadProgress shows text long
    # before (in app mode only the client can tell that the app answered).
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        loop.call_at(0.4, lock.surfaced, "a")
        return await lock.head_within(2.0), loop.time()

    assert on_fake_clock(scenario) == (True, 0.4)


def test_a_client_that_ended_or_failed_needs_no_head_window() -> None:
    async def scenario(loop: FakeClockLoop) -> tuple[bool, float]:
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        loop.call_at(0.3, lock.client_finished)  # it failed before any head: its error says why
        return await lock.head_within(2.0), loop.time()

    assert on_fake_clock(scenario) == (True, 0.3)


# Think time: the model thinks before its first token.


def think_then(client_gives_up_at: float | None) -> tuple[list[float], Lockstep]:
    """Pace ["a", "b"] with 6 s of think time; the client surfaces each token at once,
    or gives up (its read timed out) at ``client_gives_up_at``."""

    async def scenario(loop: FakeClockLoop) -> tuple[list[float], Lockstep]:
        lock = Lockstep(["a", "b"], Display("text", "chunk"))
        released: list[float] = []

        def release(upto: int) -> None:
            released.append(loop.time())
            if upto <= 2 and not lock.client_done:
                loop.call_soon(lock.surfaced, "ab"[upto - 1])

        if client_gives_up_at is not None:
            loop.call_at(client_gives_up_at, lock.client_finished)
        await lock.pace(release, 1.0, think=6.0)
        return released, lock

    return on_fake_clock(scenario)


def test_the_first_token_comes_after_the_think_time() -> None:
    released, lock = think_then(None)
    assert released == pytest.approx([6.0, 6.0, 6.0])  # token 1, token 2, the end
    assert lock.facts.surfaced_at == pytest.approx([6.0, 6.0])
    assert lock.facts.stalled_at == 0


def test_a_client_that_gives_up_while_the_model_thinks_ends_the_think() -> None:
    released, lock = think_then(5.0)  # httpx's default read timeout: 5 s
    assert released == pytest.approx([5.0, 5.0])  # token 1, then the rest and the end at once
    assert lock.facts.surfaced_at == []


def test_the_rest_released_when_pacing_was_stopped_is_a_stall_at_the_first_unseen_token() -> None:
    async def main() -> tuple[list[int], Lockstep, Lockstep]:
        releases: list[int] = []
        early = Lockstep(TOKENS, Display("text", "chunk"))
        early.release_rest(releases.append)  # nothing released yet: no token stalled
        lock = Lockstep(TOKENS, Display("text", "chunk"))
        lock._release(releases.append, 1)
        lock.surfaced("a")
        lock._release(releases.append, 2)
        lock.release_rest(releases.append)
        return releases, early, lock

    releases, early, lock = asyncio.run(main())
    assert releases == [5, 1, 2, 5] and early.facts.stalled_at == 0
    assert lock.facts.stalled_at == 2
    assert len(lock.facts.released_at) == 5  # the end's release time is kept too
