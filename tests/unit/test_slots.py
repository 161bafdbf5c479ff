"""The runner's slots: working cells bounded, waiting cells lend theirs, no deadlock."""

from __future__ import annotations

import asyncio

from streamcompat.harness.engine.schedule import Slots, Turns, schedule
from streamcompat.harness.kernel.model import Cell


def test_a_waiting_cell_lends_its_slot_and_takes_it_back() -> None:
    async def main() -> list[str]:
        slots, log = Slots(1), []
        lent, done_b = asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with slots.cell() as idle:
                async with idle():
                    lent.set()
                    await done_b.wait()  # b works while a only waits
                log.append("a back")

        async def b() -> None:
            await lent.wait()
            async with slots.cell():
                log.append("b works")
            done_b.set()

        await asyncio.wait_for(asyncio.gather(a(), b()), 5)
        return log

    assert asyncio.run(main()) == ["b works", "a back"]


def test_a_connection_pool_is_taken_before_the_working_slot() -> None:
    # a holds the pool's one connection and lends its working slot out; b wants the same
    # connection and must wait without holding a working slot, so c still gets one and
    # a gets its own back: no deadlock.
    async def main() -> list[str]:
        slots, pool, log = Slots(1), Turns(1), []
        lent, c_done = asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with slots.cell(pool) as idle:
                async with idle():
                    lent.set()
                    await c_done.wait()
                log.append("a back")

        async def b() -> None:
            await lent.wait()
            async with slots.cell(pool):
                log.append("b works")

        async def c() -> None:
            await lent.wait()
            await asyncio.sleep(0)  # b is queued on the pool first
            async with slots.cell():
                log.append("c works")
            c_done.set()

        await asyncio.wait_for(asyncio.gather(a(), b(), c()), 5)
        return log

    assert asyncio.run(main()) == ["c works", "a back", "b works"]


def test_a_cell_cancelled_while_taking_its_slot_back_leaves_the_count_right() -> None:
    async def main() -> bool:
        slots = Slots(1)
        lent = asyncio.Event()

        async def a() -> None:
            async with slots.cell() as idle, idle():
                lent.set()
                await asyncio.Event().wait()

        task = asyncio.ensure_future(a())
        await lent.wait()
        async with slots.cell():  # a now waits for its slot back: cancel it there
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with slots.cell():  # one slot, free again: neither lost nor doubled
            return slots.working.locked()

    assert asyncio.run(main()) is True


def test_turns_are_served_by_place_in_the_schedule_not_by_arrival() -> None:
    async def main() -> list[int]:
        turns, served = Turns(1), []
        await turns.acquire()  # held: everyone below queues

        async def cell(place: int) -> None:
            async with turns.held(place):
                served.append(place)

        tasks = [asyncio.ensure_future(cell(p)) for p in (5, 2, 9, 0)]
        while len(turns._waiting) < 4:  # all queued, in arrival order 5, 2, 9, 0
            await asyncio.sleep(0)
        turns.release()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return served

    assert asyncio.run(asyncio.wait_for(main(), 5)) == [0, 2, 5, 9]


def test_every_cell_in_flight_can_hold_a_thread_for_a_blocking_client() -> None:
    # 20 blocking clients that each wait until all 20 are running: with too few threads
    # (the default pool has CPUs + 4) the later ones never start and the barrier breaks.
    import threading

    from streamcompat.harness.engine.schedule import client_threads

    cells = 20
    everyone = threading.Barrier(cells, timeout=10)

    async def main() -> None:
        client_threads(cells)
        await asyncio.gather(*(asyncio.to_thread(everyone.wait) for _ in range(cells)))

    asyncio.run(main())  # raises BrokenBarrierError if any client could not get a thread


def test_cells_expected_to_wait_take_at_most_half_the_places_in_flight() -> None:
    # One working slot and its places in flight: at most half go to cells a baseline
    # expects to wait, even when all of them come first in the schedule; the rest stay
    # for working cells (and for cells that wait unexpectedly), so the working cell
    # behind them runs while they wait, instead of after their hold windows.
    slots = Slots(1)
    half = slots.most_in_flight // 2
    assert half >= 2

    async def main() -> list[str]:
        log = []
        waiting_done = asyncio.Event()
        in_wait = 0

        async def waiting(place: int) -> None:
            nonlocal in_wait
            async with slots.cell(place=place, waits=True) as idle, idle():
                in_wait += 1
                log.append(f"waiting {place}")
                await waiting_done.wait()

        async def working() -> None:
            async with slots.cell(place=half + 10):
                log.append(f"works while {in_wait} wait")
            waiting_done.set()

        cells = [waiting(p) for p in range(half + 2)]
        await asyncio.wait_for(asyncio.gather(*cells, working()), 5)
        return log

    log = asyncio.run(main())
    assert log[: half + 1] == [f"waiting {p}" for p in range(half)] + [f"works while {half} wait"]
    assert sorted(log[half + 1 :]) == [f"waiting {half}", f"waiting {half + 1}"]


def test_the_schedule_starts_waiting_cells_first_and_the_quickest_last() -> None:
    cells = [Cell(v, "httpx", "direct") for v in ("a", "b", "c", "d", "e", "f")]
    expected = {
        cells[0].key: "PASS",
        cells[1].key: "CORRUPT",
        cells[2].key: "BUFFERED",
        cells[3].key: "TOLD",
        cells[4].key: "SILENT",
    }  # f: not in the baseline (a new cell)
    order = [cell.variant for cell in schedule(cells, expected)]
    assert order == ["c", "e", "b", "f", "a", "d"]  # otherwise in matrix order
    assert schedule(cells, None) == cells  # no baseline: the matrix's order


def test_a_cell_whose_step_was_cancelled_taking_its_slot_back_never_gives_two() -> None:
    # a lends its slot; b takes it; a's step taking it back is cancelled (the head window
    # ran out while it queued). When a then lends again, it has nothing to lend: c must
    # not get a slot that b still holds; a takes one back once b is done.
    async def main() -> list[str]:
        slots, log = Slots(1), []
        b_in, a_lent_again = asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with slots.cell() as idle:

                async def step() -> None:
                    async with idle():
                        await b_in.wait()

                stepping = asyncio.ensure_future(step())
                await b_in.wait()
                await asyncio.sleep(0)  # the step now queues to take the slot back
                stepping.cancel()
                await asyncio.gather(stepping, return_exceptions=True)
                async with idle():
                    a_lent_again.set()
                    await asyncio.sleep(0)
                log.append("a back")

        async def b() -> None:
            await asyncio.sleep(0)
            async with slots.cell():
                b_in.set()
                log.append("b works")
                await a_lent_again.wait()
                await asyncio.sleep(0.01)
                log.append("b done")

        async def c() -> None:
            await a_lent_again.wait()
            async with slots.cell():
                log.append("c works")

        await asyncio.wait_for(asyncio.gather(a(), b(), c()), 5)
        return log

    log = asyncio.run(main())
    assert log.index("b done") < log.index("c works")  # never two working at once
    assert "a back" in log
