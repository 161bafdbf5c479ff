"""The many-streams scenario: each stream judged, one whose client sent its request only
after another stream had ended (by its own clock) held back; the cell is its worst
stream; and the rendezvous that keeps every stream unpaced until all requests arrived
or a hold window passed with no other."""

from __future__ import annotations

import asyncio

import pytest

from streamcompat.harness.engine.play import Rendezvous
from streamcompat.harness.kernel.model import Facts, Verdict
from streamcompat.harness.kernel.scenarios import MANY, SCENARIOS
from streamcompat.harness.kernel.verdicts import judge_many, waited_for

TOKENS = ["a ", "b ", "c "]


def stream(ended_at: float, sent_at: float = 0.0, protocol: str = "http/1.1") -> Facts:
    """A stream whose client surfaced every token before the next, ended at ``ended_at``."""
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain")
    start = ended_at - 1.0
    f.emitted_at = [start + 0.1 * i for i in range(3)]
    f.surfaced_at = [t + 0.001 for t in f.emitted_at]
    f.released_at = [*f.emitted_at, ended_at]
    f.ended_at, f.ended, f.shown = ended_at, True, "".join(TOKENS)
    f.sent_at, f.protocol = sent_at, protocol
    return f


def test_the_scenario_opens_one_stream_more_than_a_browser_has_connections() -> None:
    assert SCENARIOS["many"].streams == MANY == 7
    assert all(s.streams == 1 for name, s in SCENARIOS.items() if name != "many")


def test_streams_all_sent_before_any_ended_all_pass() -> None:
    streams = [stream(ended_at=20.0 + i, sent_at=10.0 + i / 100) for i in range(MANY)]
    _, verdict, detail = judge_many(streams)
    assert verdict is Verdict.PASS
    assert detail.startswith("all 7 streams PASS: all 3 tokens surfaced")


def test_a_request_sent_after_another_stream_ended_was_held_back_by_the_client() -> None:
    streams = [stream(ended_at=20.0 + i, sent_at=10.0) for i in range(MANY - 1)]
    streams.append(stream(ended_at=30.0, sent_at=20.025))  # after stream 1 ended, at 20 s
    worst, verdict, detail = judge_many(streams)
    assert (worst, verdict) == (MANY - 1, Verdict.BUFFERED)
    assert detail.startswith("stream 7 of 7: the client held its request back: it went on a ")
    assert "connection 25 ms after stream 1 had ended (http/1.1;" in detail
    assert detail.endswith("(streams: 6 PASS, 1 BUFFERED)")


@pytest.mark.parametrize(
    ("sent_at", "ends", "waited"),
    [
        (0.0, [1.0, 2.0], None),  # the client did not say when it sent it: no evidence
        (5.0, [6.0, 7.0], None),  # sent before any other ended
        (6.0, [6.0, 7.0], 1),  # sent the moment stream 2 ended: it had ended
        (7.5, [7.0, 6.0], 2),  # the first to have ended is named
        (7.5, [0.0, 9.0], None),  # a stream that never ended freed nothing
    ],
)
def test_which_stream_a_request_waited_for(
    sent_at: float, ends: list[float], waited: int | None
) -> None:
    this = stream(ended_at=20.0, sent_at=sent_at)
    others = [stream(ended_at=e) for e in ends]
    for other, end in zip(others, ends, strict=True):
        other.ended_at = end
    assert waited_for(this, [this, *others]) == waited


def test_a_stream_that_failed_keeps_its_own_verdict_and_names_the_cell() -> None:
    broken = stream(ended_at=21.0, sent_at=10.0)
    broken.surfaced_at, broken.shown, broken.units = [], "", 0
    streams = [stream(ended_at=20.0, sent_at=10.0), broken]
    worst, verdict, detail = judge_many(streams)
    assert (worst, verdict) == (1, Verdict.SILENT)
    assert detail.startswith("stream 2 of 2: connected") and "(streams: 1 PASS, 1 SILENT)" in detail


def test_a_held_stream_that_also_lost_content_is_judged_by_its_content() -> None:
    late = stream(ended_at=30.0, sent_at=25.0)
    late.surfaced_at = late.surfaced_at[:1]
    late.shown, late.diverged = "a x ", "at token 2, shown 'x ' where 'b ' was expected"
    _, verdict, _ = judge_many([stream(ended_at=20.0, sent_at=10.0), late])
    assert verdict is Verdict.CORRUPT


def test_the_rendezvous_lets_every_stream_go_once_all_arrived() -> None:
    async def main() -> list[float]:
        meeting = Rendezvous(3, window=30.0)
        loop = asyncio.get_running_loop()
        began = loop.time()
        waiting = [asyncio.ensure_future(meeting.arrive()) for _ in range(2)]
        await asyncio.sleep(0)  # both wait (a yield to the loop, not a delay)
        assert not any(w.done() for w in waiting)
        await meeting.arrive()
        await asyncio.wait_for(asyncio.gather(*waiting), 1)
        return [loop.time() - began]

    (took,) = asyncio.run(main())
    assert took < 30.0  # the third arrival let them go, not the window


def test_the_rendezvous_opens_after_a_window_without_the_rest_and_stays_open() -> None:
    async def main() -> tuple[bool, bool]:
        meeting = Rendezvous(7, window=0.05)
        six = [asyncio.ensure_future(meeting.arrive()) for _ in range(6)]
        await asyncio.wait_for(asyncio.gather(*six), 5)  # the window, not a 7th, ended it
        opened = meeting.open
        await asyncio.wait_for(meeting.arrive(), 0.01)  # the 7th, late, passes at once
        return opened, meeting.open

    assert asyncio.run(main()) == (True, True)


def test_the_held_stream_is_said_word_for_word() -> None:
    """The sentence users read, whole: the wait in whole ms (2500, where a wrong unit
    would show), the stream it waited for, and a protocol the client did not say."""
    streams = [
        stream(ended_at=20.0, sent_at=10.0),
        stream(ended_at=30.0, sent_at=22.5, protocol=""),
    ]
    _, verdict, detail = judge_many(streams)
    assert verdict is Verdict.BUFFERED
    assert detail == (
        "stream 2 of 2: the client held its request back: it went on a connection 2500 ms "
        "after stream 1 had ended (protocol not said; over HTTP/1.1 a browser opens 6 "
        "connections per origin), then every token streamed (streams: 1 PASS, 1 BUFFERED)"
    )


def test_of_streams_as_bad_as_each_other_the_first_names_the_cell() -> None:
    streams = [
        stream(ended_at=20.0, sent_at=10.0),
        stream(ended_at=30.0, sent_at=21.0),  # waited for stream 1
        stream(ended_at=31.0, sent_at=22.0),  # waited for stream 1 too
    ]
    worst, verdict, detail = judge_many(streams)
    assert (worst, verdict) == (1, Verdict.BUFFERED)
    assert detail.startswith("stream 2 of 3: ")
