"""Verdicts are pure functions of recorded facts: one test per way a cell can end."""

from __future__ import annotations

import pytest

from harness.model import Facts, Verdict
from harness.verdicts import judge, measure, percentile

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
        (complete(stalled_at=1), Verdict.BUFFERED, "token 1 of 3"),
        (complete(stalled_at=2, replays=True), Verdict.CORRUPT, "reconnects"),
        (facts(unsupported="EventSource can only GET"), Verdict.UNSUPPORTED, "only GET"),
        (facts(failure="HTTP 500"), Verdict.ERROR, "HTTP 500"),
        (complete(failure="reset"), Verdict.ERROR, "after 3 of 3"),
        (facts(timed_out=True, ended=False), Verdict.TIMEOUT, "0 of 3"),
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
