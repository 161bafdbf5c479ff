"""Verdicts are pure functions of recorded facts: one test per way a cell can end."""

from __future__ import annotations

import pytest

from streamcompat.harness.kernel.model import Facts, Verdict
from streamcompat.harness.kernel.verdicts import (
    clock_slack,
    held_back,
    judge,
    later_bytes_at,
    measure,
    percentile,
    unpaced,
)

TOKENS = ["Hello", " world", "!"]


def facts(**changes: object) -> Facts:
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain", ended=True)
    f.started_at, f.finished_at = 10.0, 10.5
    for key, value in changes.items():
        setattr(f, key, value)
    return f


def complete(**changes: object) -> Facts:
    return facts(shown="Hello world!", units=3, surfaced_at=[10.1, 10.2, 10.3], **changes)


@pytest.mark.parametrize(
    ("f", "verdict", "words"),
    [
        (complete(), Verdict.PASS, "all 3 tokens"),
        (complete(stalled_at=1, emitted_at=[10.0, 10.1, 10.15]), Verdict.BUFFERED, "token 1 of 3"),
        (complete(stalled_at=2, replays=True), Verdict.REPLAYS, "reconnecting"),
        (facts(unsupported="EventSource can only GET"), Verdict.UNSUPPORTED, "only GET"),
        (facts(failure="HTTP 500"), Verdict.ERROR, "HTTP 500"),
        (facts(failure="ReadTimeout", think=6.0), Verdict.ERROR, "model thought 6 s before"),
        (complete(failure="reset"), Verdict.ERROR, "after 3 of 3"),
        (facts(timed_out=True, ended=False), Verdict.TIMEOUT, "0 of 3"),
        (facts(no_head_within=5.0, arrived_at=10.01, opened=False), Verdict.TIMEOUT, "5 s"),
        (facts(server_died="killed by SIGKILL"), Verdict.ERROR, "killed by SIGKILL"),
        (facts(), Verdict.SILENT, "no unit surfaced"),
        (facts(units=4), Verdict.SILENT, "4 empty units"),
        (facts(opened=False), Verdict.SILENT, "no response"),
        (facts(shown="data: Hel", diverged="at token 1, framing"), Verdict.CORRUPT, "framing"),
        (facts(shown="Hello", surfaced_at=[10.1]), Verdict.CORRUPT, "after 1 of 3"),
    ],
)
def test_judge(f: Facts, verdict: Verdict, words: str) -> None:
    got, detail = judge(f)
    assert got is verdict
    assert words in detail


def test_precedence_unsupported_over_everything() -> None:
    f = complete(unsupported="no", failure="x", timed_out=True)
    assert judge(f)[0] is Verdict.UNSUPPORTED


def test_error_beats_timeout_and_timeout_beats_content() -> None:
    assert judge(complete(failure="x", timed_out=True))[0] is Verdict.ERROR
    assert judge(complete(timed_out=True))[0] is Verdict.TIMEOUT


def test_measure_uses_request_time_and_emission_time() -> None:
    f = complete(requested_at=10.05, emitted_at=[10.09, 10.19, 10.2])
    first, p50, p99, duration = measure(f)
    assert first == pytest.approx(50.0)
    assert p50 == pytest.approx(10.0)
    assert p99 == pytest.approx(100.0)
    assert duration == pytest.approx(500.0)


def test_measure_without_surfaced_tokens() -> None:
    first, p50, p99, _ = measure(facts())
    assert first is None and p50 is None and p99 is None


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_server_side_failures_are_named_in_the_detail() -> None:
    verdict, detail = judge(facts(failure="HTTP 500", server_note="the factory raised X"))
    assert verdict is Verdict.ERROR and detail.endswith("server: the factory raised X")
    assert "server" not in judge(complete(server_note="ignored for a PASS"))[1]


# Causal stalls: a stall counts only on the client's own evidence.


def test_a_token_surfaced_after_the_next_was_produced_was_held_back() -> None:
    f = complete(stalled_at=2, emitted_at=[10.05, 10.15, 10.2])
    assert held_back(f) and not unpaced(f)  # token 2 at 10.2, token 3 produced at 10.2
    verdict, detail = judge(f)
    assert verdict is Verdict.BUFFERED
    assert "token 2 of 3 was held back" in detail and "0 ms after token 3" in detail


def test_a_token_surfaced_before_the_next_was_produced_is_never_buffered() -> None:
    # The harness heard of token 2 late and gave up, but the client's clock shows it
    # on screen 50 ms before token 3 was produced: a slow report, not a held token.
    f = complete(stalled_at=2, emitted_at=[10.05, 10.15, 10.25])
    assert not held_back(f)
    assert "surfaced it 50 ms before the next bytes" in unpaced(f)
    verdict, detail = judge(f)
    assert verdict is Verdict.PASS and "not paced" in detail


def test_a_contradiction_within_the_clients_clock_margin_leaves_the_stall_proven() -> None:
    # Token 2's stamp reads 2 ms before token 3 was produced, but the cell's barriers found
    # the page's clock, mapped, may read up to 3 ms behind the harness's: the stamp cannot
    # tell, and the barrier proved the stall (sse-cr in a loaded Firefox: #17).
    f = complete(stalled_at=2, emitted_at=[10.05, 10.15, 10.202], clock_lead=-0.003)
    assert clock_slack(f) == pytest.approx(0.004)  # 3 ms behind, 1 ms resolution
    assert held_back(f) and not unpaced(f)
    verdict, detail = judge(f)
    assert verdict is Verdict.BUFFERED
    assert (
        "surfaced it 2.0 ms before token 3 was produced by its clock, within that "
        "clock's 4.0 ms margin on the harness's" in detail
    )


def test_a_contradiction_beyond_the_clients_clock_margin_is_still_early() -> None:
    f = complete(stalled_at=2, emitted_at=[10.05, 10.15, 10.25], clock_lead=-0.003)
    assert not held_back(f)  # 50 ms early: more than the clock's 4 ms can explain
    assert "surfaced it 50 ms before the next bytes" in unpaced(f)


@pytest.mark.parametrize(
    ("lead", "slack"),
    [(None, 0.0), (0.002, 0.001), (0.0, 0.001), (-0.010, 0.011)],
)
def test_the_clock_slack_is_what_the_barriers_leave_of_the_clock_reading_behind(
    lead: float | None, slack: float
) -> None:
    # None: the client's stamps are the harness's own (in-process drivers): no slack.
    # A clock proven ahead widens nothing but its resolution.
    assert clock_slack(facts(clock_lead=lead)) == pytest.approx(slack)


def test_the_last_token_is_judged_against_the_end_of_the_stream() -> None:
    f = complete(stalled_at=3, emitted_at=[10.0, 10.1, 10.2], ended_at=10.31)
    assert later_bytes_at(f, 3) == 10.31
    assert not held_back(f)  # token 3 surfaced at 10.3, before the end was produced
    f.ended_at = 10.3  # at the same moment counts as held back: "at or after"
    assert held_back(f)
    assert "after the end of the stream" in judge(f)[1]


def test_without_server_times_the_release_of_the_rest_bounds_production() -> None:
    f = complete(stalled_at=1, released_at=[10.0, 10.19, 10.19, 10.19])
    assert later_bytes_at(f, 1) == 10.19
    assert not held_back(f)  # surfaced at 10.1, before the rest was released
    f.released_at = [10.0, 10.1, 10.1, 10.1]
    assert held_back(f)


def test_no_stall_means_nothing_was_held_back_whatever_the_times() -> None:
    f = complete(emitted_at=[10.5, 10.6, 10.7])  # clocks a little apart: no stall, no judgement
    assert not held_back(f) and not unpaced(f)
    assert judge(f)[0] is Verdict.PASS


def test_a_stalled_token_that_never_surfaced_is_lost_not_held() -> None:
    f = facts(shown="Hello", surfaced_at=[10.1], stalled_at=2, emitted_at=[10.0, 10.2, 10.3])
    assert not held_back(f) and not unpaced(f)
    assert judge(f)[0] is Verdict.CORRUPT


def test_replays_are_named_in_the_detail() -> None:
    f = complete(replayed=["the harness heard of token 2 late"])
    assert judge(f)[1].endswith("(replayed: the harness heard of token 2 late)")


# Faults: a server that died, a head that never came, an end that never came.


def test_a_server_death_is_named_before_what_the_client_said() -> None:
    f = facts(
        shown="Hello world",
        surfaced_at=[10.1, 10.2],
        failure="ChunkedEncodingError: Response ended prematurely",
        server_died="killed by SIGKILL; its log is empty",
        timed_out=True,
    )
    verdict, detail = judge(f)
    assert verdict is Verdict.ERROR
    assert detail.startswith("the variant server died after 2 of 3 tokens surfaced")
    assert "(killed by SIGKILL; its log is empty)" in detail and "restarted" in detail
    assert detail.endswith("the client said: ChunkedEncodingError: Response ended prematurely")
    assert (
        judge(facts(server_died="exited with code 3", unsupported="no"))[0] is Verdict.UNSUPPORTED
    )


def test_no_head_in_the_head_window_is_a_timeout_that_says_so() -> None:
    f = facts(opened=False, ended=False, arrived_at=10.01, no_head_within=5.0)
    verdict, detail = judge(f)
    assert verdict is Verdict.TIMEOUT
    assert detail.startswith("no response head within 5 s of the request reaching the server")
    assert "deadline" not in detail
    # A client that raised meanwhile is what its user saw: ERROR wins, as it does over TIMEOUT.
    assert judge(facts(no_head_within=5.0, arrived_at=10.01, failure="reset"))[0] is Verdict.ERROR


def test_a_request_that_never_reached_the_server_says_so() -> None:
    verdict, detail = judge(facts(opened=False, ended=False, no_head_within=10.0))
    assert verdict is Verdict.TIMEOUT
    assert detail == "the request did not reach the server within 10 s"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"shown": "Hello world!", "surfaced_at": [10.1, 10.2, 10.3]},
            "all 3 tokens surfaced, but the end of the stream never came",
        ),
        (
            {"shown": "Hello", "surfaced_at": [10.1]},
            "1 of 3 tokens surfaced and the end never came",
        ),
    ],
)
def test_an_endless_stream_says_how_far_it_got_and_that_the_end_never_came(
    changes: dict[str, object], words: str
) -> None:
    verdict, detail = judge(facts(timed_out=True, ended=False, deadline=30.0, **changes))
    assert verdict is Verdict.TIMEOUT
    assert detail == f"the client had not finished at the 30 s deadline: {words}"


def test_a_client_that_requested_the_stream_again_has_the_count_in_its_detail() -> None:
    verdict, detail = judge(complete(requests=3))
    assert verdict is Verdict.PASS and "requested the stream 3 times" in detail
    assert "requested" not in judge(complete(requests=1))[1]


def test_every_verdict_has_its_facts_and_the_gate_orders_them_as_the_words_say() -> None:
    from streamcompat.harness.kernel.model import FACTS

    assert set(FACTS) == set(Verdict)
    assert all(FACTS[v].mark == "✅" for v in Verdict if v.passed)
    assert all(FACTS[v].mark == "❌" for v in Verdict if not v.passed and v != Verdict.UNSUPPORTED)
    assert {v for v in Verdict if FACTS[v].rank == 0} == {v for v in Verdict if v.passed}
    assert FACTS[Verdict.BUFFERED].rank < FACTS[Verdict.REPLAYS].rank < FACTS[Verdict.CORRUPT].rank
    assert all(f.meaning and f.tint.startswith("#") for f in FACTS.values())


def _dropped(**changes: object) -> Facts:
    from streamcompat.harness.kernel.model import Wire

    given: dict[str, object] = {"shown": "", "units": 0, "ended": True, "ended_at": 0.0}
    return facts(**{**given, "wire": Wire(sent_bytes=21), **changes})


@pytest.mark.parametrize(
    ("f", "dropped"),
    [
        (_dropped(), True),  # a clean end the server never wrote: the hop wrote it
        (_dropped(ended_at=10.4), False),  # the server ended: the end is the server's
        (_dropped(ended=False), False),  # the client saw no end
        (_dropped(failure="RemoteProtocolError"), False),  # it raised: a told failure
        (_dropped(stop_requested_at=10.2), False),  # the client was asked to leave
        (_dropped(timed_out=True), False),  # the deadline ended it
    ],
)
def test_a_stream_the_path_ended_on_its_own_is_found(f: Facts, dropped: bool) -> None:
    from streamcompat.harness.kernel.verdicts import dropped_on_the_way

    said = dropped_on_the_way(f)
    assert bool(said) == dropped
    if dropped:
        assert "after 21 bytes" in said


# Boundaries of the rules above, one row each (found by mutmut: `tools/mutation.py`).


@pytest.mark.parametrize(
    ("requests", "said"),
    [(1, False), (2, True), (3, True)],  # one request is the stream; a second is a retry
)
def test_a_second_request_is_named_in_the_detail(requests: int, said: bool) -> None:
    _, detail = judge(facts(failure="HTTP 500", requests=requests))
    assert ("the client requested the stream 2 times" in detail) is (requests == 2 and said)
    assert (f"requested the stream {requests} times" in detail) is said


def test_held_back_by_how_long_in_whole_ms() -> None:
    f = facts(shown="Hello world!", units=3, stalled_at=1, emitted_at=[10.0, 10.05, 10.06])
    f.surfaced_at = [12.55, 12.55, 12.55]
    assert judge(f)[1] == (
        "content exact, but token 1 of 3 was held back: the client surfaced it 2500 ms after "
        "token 2 was produced (it waited for later bytes)"
    )


def test_a_late_report_says_how_early_the_client_was_in_whole_ms() -> None:
    f = complete(stalled_at=2, emitted_at=[10.0, 10.1, 12.75])
    f.surfaced_at = [10.05, 10.25, 12.8]
    assert unpaced(f) == (
        "the harness heard of token 2 only after its hold window, but the client surfaced "
        "it 2500 ms before the next bytes were produced"
    )


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),  # nearest rank: ceil(0.5 * 4) = 2nd
        ([float(i) for i in range(1, 101)], 99, 99.0),  # not the maximum
        ([float(i) for i in range(1, 201)], 50, 100.0),
        ([float(i) for i in range(1, 102)], 50, 51.0),  # ceil(50.5): q is a share of 100
        ([5.0], 1, 5.0),
        ([], 50, None),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_measure_gives_p50_and_p99_of_the_lags() -> None:
    f = complete(emitted_at=[10.0 + i for i in range(100)])
    f.surfaced_at = [10.0 + i + (i + 1) / 1000 for i in range(100)]  # lags 1..100 ms
    _, p50, p99, _ = measure(f)
    assert (round(p50 or 0), round(p99 or 0)) == (50, 99)


def test_a_detail_never_says_none_for_what_is_not_there() -> None:
    cases = [
        facts(timed_out=True, ended=False),
        facts(shown="", units=0, ended=True, end_note=""),
    ]
    for f in cases:
        assert "None" not in judge(f)[1], judge(f)[1]


def test_a_drop_with_no_record_of_the_wire_says_0_bytes() -> None:
    from streamcompat.harness.kernel.verdicts import dropped_on_the_way

    assert "after 0 bytes of the server's" in dropped_on_the_way(_dropped(wire=None))


@pytest.mark.parametrize(
    ("f", "verdict"),
    [
        # Either alone decides before any scenario rule: a scenario's facts do not matter.
        (facts(unsupported="EventSource can only GET", abort_after=2), Verdict.UNSUPPORTED),
        (facts(server_died="exit 1", abort_after=2, stop_requested_at=10.2), Verdict.ERROR),
    ],
)
def test_unsupported_or_a_dead_server_is_judged_as_a_stream(f: Facts, verdict: Verdict) -> None:
    assert judge(f)[0] is verdict
