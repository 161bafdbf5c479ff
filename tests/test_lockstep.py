"""The lockstep gate: release on surfacing, hold-window expiry, release-the-rest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from harness.codecs import Display
from harness.lockstep import Lockstep

TOKENS = ["a", "b", "c", "d"]
HOLD = 0.2


def play(
    client: Callable[[Lockstep, int], None], tokens: list[str] = TOKENS
) -> tuple[Lockstep, list[int]]:
    """Pace a fake server; ``client(lock, upto)`` is told each release and may surface."""
    releases: list[int] = []

    async def main() -> Lockstep:
        lock = Lockstep(tokens, Display("text", "chunk"))

        async def release(upto: int) -> None:
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
    assert releases == [1, 2, 3, 4, 4]
    assert lock.facts.stalled_at == 0
    assert len(lock.facts.surfaced_at) == 4 and lock.facts.shown == "abcd"


def test_buffering_client_stalls_at_token_one_then_gets_the_rest() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto == len(TOKENS):
            lock.surfaced("".join(TOKENS))

    lock, releases = play(client)
    assert releases == [1, 4]
    assert lock.facts.stalled_at == 1
    assert lock.facts.shown == "abcd"


def test_client_that_stops_midway_stalls_there() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto <= 2:
            lock.surfaced(TOKENS[upto - 1])

    lock, releases = play(client)
    assert releases == [1, 2, 3, 4]
    assert lock.facts.stalled_at == 3
    assert len(lock.facts.surfaced_at) == 2


def test_divergence_stops_pacing_without_a_stall() -> None:
    def client(lock: Lockstep, upto: int) -> None:
        if upto == 1:
            lock.surfaced("data: a\n\n")

    lock, releases = play(client)
    assert releases == [1, 4]
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
