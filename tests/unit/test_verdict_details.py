"""Every sentence a verdict says, word for word, and the rules at their boundaries.

A cell's detail is what its user reads in every report: a finding in words, not
decoration. Each row is one way a cell can end and the whole sentence it must say; the
boundary rows sit where a rule's comparison turns (equal times, a list one entry short).
"""

from __future__ import annotations

import pytest

from streamcompat.harness.kernel.model import Facts, Verdict
from streamcompat.harness.kernel.verdicts import held_back, judge, later_bytes_at, measure, unpaced

TOKENS = ["Hello", " world", "!"]
TEN = [f"t{i} " for i in range(1, 11)]  # the scenarios' streams: 10 tokens
K = 3  # abort and error: after token 3


def cell(upto: int = 0, **changes: object) -> Facts:
    """A stream cell (3 tokens) whose client surfaced tokens 1..upto, each before the next
    was produced, and saw the stream end."""
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain", ended=True)
    f.started_at, f.finished_at = 10.0, 10.5
    f.shown, f.units = "".join(TOKENS[:upto]), upto
    f.surfaced_at = [10.1 + i / 10 for i in range(upto)]
    for key, value in changes.items():
        setattr(f, key, value)
    return f


def scenario(upto: int, **changes: object) -> Facts:
    """A 10-token scenario cell whose client surfaced tokens 1..upto, each in time."""
    f = Facts(tokens=list(TEN), opened=True, status=200, content_type="text/plain")
    f.surfaced_at = [10.0 + i for i in range(upto)]
    f.emitted_at = [9.5 + i for i in range(upto)]
    f.released_at = [9.4 + i for i in range(upto)]
    f.shown = "".join(TEN[:upto])
    for key, value in changes.items():
        setattr(f, key, value)
    return f


def left(**changes: object) -> Facts:
    """An abort cell: asked to leave after token 3 at 20.0, the client left at 20.002."""
    return scenario(K, abort_after=K, stop_requested_at=20.0, aborted_at=20.002, **changes)


def failed(upto: int = K, k: int = K, **changes: object) -> Facts:
    """An error cell: the chain failed after token k; the harness let that out at 30.0."""
    f = scenario(upto, fail_after=k, **changes)
    f.released_at = [9.4 + i for i in range(k)] + [30.0] * (len(TEN) + 1 - k)
    return f


STREAM = [
    (cell(3, unsupported="EventSource can only GET"), Verdict.UNSUPPORTED,
     "EventSource can only GET"),
    (cell(1, server_died="killed by SIGKILL"), Verdict.ERROR,
     "the variant server died after 1 of 3 tokens surfaced (killed by SIGKILL); the harness "
     "restarted it"),
    (cell(1, server_died="exit 3", failure="reset"), Verdict.ERROR,
     "the variant server died after 1 of 3 tokens surfaced (exit 3); the harness restarted "
     "it; the client said: reset"),
    (cell(1, failure="HTTP 500"), Verdict.ERROR, "client failed after 1 of 3 tokens: HTTP 500"),
    (cell(opened=False, ended=False, no_head_within=2.5, arrived_at=10.01), Verdict.TIMEOUT,
     "no response head within 2.5 s of the request reaching the server (the server sent "
     "none; the client was still waiting)"),
    (cell(opened=False, ended=False, no_head_within=2.5, arrived_at=10.01, app="myapp"),
     Verdict.TIMEOUT,
     "no response head within 2.5 s of the app calling the fake upstream (the app sent "
     "none; the client was still waiting)"),
    (cell(opened=False, ended=False, no_head_within=10.0), Verdict.TIMEOUT,
     "the request did not reach the server within 10 s"),
    (cell(opened=False, ended=False, no_head_within=10.0, app="myapp"), Verdict.TIMEOUT,
     "no response head within 10 s"),
    (cell(ended=False, timed_out=True), Verdict.TIMEOUT,
     "the client had not finished at the deadline: 0 of 3 tokens surfaced and the end never "
     "came"),
    (cell(3, ended=False, timed_out=True, deadline=7.5), Verdict.TIMEOUT,
     "the client had not finished at the 7.5 s deadline: all 3 tokens surfaced, but the end "
     "of the stream never came"),
    # Three units surfaced, but not the three tokens: not "all 3".
    (cell(3, ended=False, timed_out=True, deadline=30.0, diverged="at token 2, shown 'x'"),
     Verdict.TIMEOUT,
     "the client had not finished at the 30 s deadline: 3 of 3 tokens surfaced and the end "
     "never came"),
    (cell(), Verdict.SILENT, "connected (HTTP 200 text/plain) but no unit surfaced before the end"),
    (cell(units=4, end_note="the body ended without an end marker"), Verdict.SILENT,
     "connected (HTTP 200 text/plain) but 4 empty units surfaced before the end (the body "
     "ended without an end marker)"),
    (cell(content_type=""), Verdict.SILENT,
     "connected (HTTP 200) but no unit surfaced before the end"),
    (cell(opened=False), Verdict.SILENT, "connected (no response) but no unit surfaced before "
     "the end"),
    (cell(1, diverged="at token 2, shown 'data: w'"), Verdict.CORRUPT,
     "after 1 of 3 tokens: at token 2, shown 'data: w'"),
    (cell(1), Verdict.CORRUPT, "the stream ended after 1 of 3 tokens; the rest never surfaced"),
    (cell(3, replays=True), Verdict.REPLAYS,
     "every token surfaced, but the stream ended without an end event: the client fired its "
     "error event while reconnecting, and EventSource shows the tokens again"),
    (cell(3, stalled_at=2, emitted_at=[10.05, 10.15, 10.2]), Verdict.BUFFERED,
     "content exact, but token 2 of 3 was held back: the client surfaced it 0 ms after token "
     "3 was produced (it waited for later bytes)"),
    (cell(3, stalled_at=3, emitted_at=[10.05, 10.15, 10.25], ended_at=10.275), Verdict.BUFFERED,
     "content exact, but token 3 of 3 was held back: the client surfaced it 25 ms after the "
     "end of the stream was produced (it waited for later bytes)"),
    (cell(3, stalled_at=2, emitted_at=[10.05, 10.15, 10.25]), Verdict.PASS,
     "all 3 tokens surfaced, exact; the harness heard of token 2 only after its hold window, "
     "but the client surfaced it 50 ms before the next bytes were produced, so the tokens "
     "after it were not paced"),
    (cell(3), Verdict.PASS, "all 3 tokens surfaced, exact, each before the next was produced"),
]  # fmt: skip


@pytest.mark.parametrize(("f", "verdict", "detail"), STREAM)
def test_the_stream_verdict_says_its_sentence(f: Facts, verdict: Verdict, detail: str) -> None:
    assert judge(f) == (verdict, detail)


WHAT_ELSE = [
    # Said after any verdict but PASS: what the server or the app saw go wrong, ...
    (cell(1, server_note="the factory raised X"),
     "the stream ended after 1 of 3 tokens; the rest never surfaced — server: the factory "
     "raised X"),
    (cell(1, server_note="the upstream call raised X", app="myapp"),
     "the stream ended after 1 of 3 tokens; the rest never surfaced — app: the upstream call "
     "raised X"),
    (cell(3, server_note="ignored for a PASS"),
     "all 3 tokens surfaced, exact, each before the next was produced"),
    # ... that the model thought before its first token, ...
    (cell(failure="ReadTimeout", think=6.0),
     "client failed after 0 of 3 tokens: ReadTimeout (the model thought 6 s before its "
     "first token; the client kept its library's default timeouts)"),
    (cell(3, think=6.0), "all 3 tokens surfaced, exact, each before the next was produced"),
    # ... after every verdict: how often the stream was asked for, and what was replayed.
    (cell(3, requests=2),
     "all 3 tokens surfaced, exact, each before the next was produced (the client requested "
     "the stream 2 times)"),
    (cell(3, requests=2, app="myapp"),
     "all 3 tokens surfaced, exact, each before the next was produced (the app called the "
     "upstream 2 times)"),
    (cell(3, replayed=["the path ended the stream after 0 bytes", "a late report"]),
     "all 3 tokens surfaced, exact, each before the next was produced (replayed: the path "
     "ended the stream after 0 bytes; a late report)"),
    (cell(1, failure="reset", server_note="broken pipe", think=2.5, requests=3,
          replayed=["a late report"]),
     "client failed after 1 of 3 tokens: reset — server: broken pipe (the model thought "
     "2.5 s before its first token; the client kept its library's default timeouts) (the "
     "client requested the stream 3 times) (replayed: a late report)"),
]  # fmt: skip


@pytest.mark.parametrize(("f", "detail"), WHAT_ELSE)
def test_what_else_happened_is_said_after_the_verdicts_sentence(f: Facts, detail: str) -> None:
    assert judge(f)[1] == detail


ABORT = [
    (left(cancelled_at=22.502, generated=K + 1), Verdict.STOPPED,
     "the client left after token 3; the server cancelled generation 2500 ms later, while its "
     "response waited for the next token"),
    # The server noticed the closed connection before the client's driver said it had left.
    (left(cancelled_at=20.001, generated=K + 1), Verdict.STOPPED,
     "the client left after token 3; the server cancelled generation 0 ms later, while its "
     "response waited for the next token"),
    (left(cancelled_at=21.5, generated=K + 2, let_run=True), Verdict.STOPPED,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation was cancelled after 1 more token (when the "
     "response next wrote)"),
    (left(cancelled_at=21.5, generated=K + 3, let_run=True), Verdict.STOPPED,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation was cancelled after 2 more tokens (when the "
     "response next wrote)"),
    # Token k+1 was already out when the client was asked to leave: it is not one more.
    (left(cancelled_at=21.5, generated=K + 1, let_run=True), Verdict.STOPPED,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation was cancelled after 0 more tokens (when the "
     "response next wrote)"),
    (left(cancelled_at=21.5, generated=K, let_run=True), Verdict.STOPPED,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation was cancelled after 0 more tokens (when the "
     "response next wrote)"),
    (left(ended_at=21.6, generated=10, let_run=True), Verdict.LEAK,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation went on to token 10 of 10"),
    # A cancellation that came after the run had ended stopped nothing.
    (left(ended_at=21.6, cancelled_at=21.7, generated=10, let_run=True), Verdict.LEAK,
     "the client left after token 3; the server did not notice while its response waited for "
     "the next token; let run, generation went on to token 10 of 10"),
    (left(generated=K + 1, running_after=2.5, let_run=True), Verdict.LEAK,
     "the client left after token 3; 2.5 s later generation was neither cancelled nor ended "
     "(at token 4 of 10): nothing cancelled it"),
    (left(), Verdict.ERROR,
     "the client left after token 3, but the server kept no record of the stream's run"),
    (scenario(K, abort_after=K, stop_requested_at=20.0, timed_out=True, deadline=30.0),
     Verdict.TIMEOUT,
     "asked to leave after token 3, the client had not left by the 30 s deadline"),
    (scenario(K, abort_after=K, stop_requested_at=20.0, timed_out=True, deadline=30.0,
              failure="ReadTimeout"),
     Verdict.TIMEOUT,
     "asked to leave after token 3, the client had not left by the 30 s deadline; it said: "
     "ReadTimeout"),
    (scenario(10, abort_after=K, stop_requested_at=20.0, ended=True), Verdict.ERROR,
     "asked to leave after token 3, the client did not say it had left"),
    (scenario(10, abort_after=K, stop_requested_at=20.0, ended=True, failure="closed"),
     Verdict.ERROR,
     "asked to leave after token 3, the client did not say it had left; it said: closed"),
    # A client that cannot make the request, or a server that died, decides before the
    # scenario: said as the stream would say it, with nothing of the abort.
    (scenario(0, abort_after=K, unsupported="EventSource can only GET"), Verdict.UNSUPPORTED,
     "EventSource can only GET"),
    (scenario(K, abort_after=K, stop_requested_at=20.0, server_died="exit 1"), Verdict.ERROR,
     "the variant server died after 3 of 10 tokens surfaced (exit 1); the harness restarted "
     "it"),
    # Never asked: token k never surfaced. The stream's verdict, and why it was not asked.
    (scenario(0, abort_after=K, ended=True), Verdict.SILENT,
     "connected (HTTP 200 text/plain) but no unit surfaced before the end (abort: it never "
     "surfaced token 3, so it was not asked to leave)"),
]  # fmt: skip


@pytest.mark.parametrize(("f", "verdict", "detail"), ABORT)
def test_the_abort_verdict_says_its_sentence(f: Facts, verdict: Verdict, detail: str) -> None:
    assert judge(f) == (verdict, detail)


ERROR = [
    (failed(failure="ChunkedEncodingError: cut", client_done_at=30.1), Verdict.TOLD,
     "the chain failed after token 3; the client raised: ChunkedEncodingError: cut"),
    # It raised at the very moment the failure was let out: after it, as "at or after" says.
    (failed(failure="cut", client_done_at=30.0), Verdict.TOLD,
     "the chain failed after token 3; the client raised: cut"),
    (failed(upto=1, failure="cut", client_done_at=30.1), Verdict.TOLD,
     "the chain failed after token 3 (it had shown 1 of them: it was holding text back); the "
     "client raised: cut"),
    (failed(ended=True, diverged="unit 4 could not be decoded: error"), Verdict.TOLD,
     "the chain failed after token 3; the failure reached the user as data: unit 4 could not "
     "be decoded: error"),
    (failed(k=0, upto=0, failure="ChunkedEncodingError: cut", client_done_at=30.1),
     Verdict.TOLD,
     "the chain failed before its first token; the client raised: ChunkedEncodingError: cut"),
    (failed(ended=True, replays=True), Verdict.TRUNCATED,
     "the chain failed after token 3; EventSource only fired error, as at any end of a body: "
     "it would reconnect and run the chain again, and said nothing of a failure"),
    (failed(ended=True, end_note="the body ended without an end marker"), Verdict.TRUNCATED,
     "the chain failed after token 3; the client ended as if the stream were whole (the body "
     "ended without an end marker), showing 3 of 10 tokens and nothing else"),
    (failed(ended=True), Verdict.TRUNCATED,
     "the chain failed after token 3; the client ended as if the stream were whole, showing "
     "3 of 10 tokens and nothing else"),
    (failed(k=0, upto=0, ended=True, end_note="end of body"), Verdict.TRUNCATED,
     "the chain failed before its first token; the client ended as if the stream were whole "
     "(end of body): an empty answer, and nothing said of a failure"),
    (failed(k=0, upto=0, ended=True), Verdict.TRUNCATED,
     "the chain failed before its first token; the client ended as if the stream were whole: "
     "an empty answer, and nothing said of a failure"),
    # Not told: it raised before the failure was out (an instant before, or before the
    # harness had released it at all), or never took the response.
    (failed(failure="ChunkedEncodingError: cut", client_done_at=29.999), Verdict.ERROR,
     "client failed after 3 of 10 tokens: ChunkedEncodingError: cut (error: the chain failed "
     "after token 3; the client had not shown tokens 1..3)"),
    (scenario(K, fail_after=K, failure="cut", client_done_at=30.1), Verdict.ERROR,
     "client failed after 3 of 10 tokens: cut (error: the chain failed after token 3; the "
     "client had not shown tokens 1..3)"),
    (failed(failure="cut", client_done_at=30.1, opened=False), Verdict.ERROR,
     "client failed after 3 of 10 tokens: cut (error: the chain failed after token 3; the "
     "client had not shown tokens 1..3)"),
    (failed(k=0, upto=0, failure="EventSource refused text/plain", client_done_at=29.0),
     Verdict.ERROR,
     "client failed after 0 of 10 tokens: EventSource refused text/plain (error: the chain "
     "failed before its first token, but the client had failed on the response first)"),
    (failed(upto=1, ended=True), Verdict.CORRUPT,
     "the stream ended after 1 of 10 tokens; the rest never surfaced (error: the chain failed "
     "after token 3; the client had not shown tokens 1..3)"),
    (failed(upto=1, ended=True, diverged="at token 2, shown 'x'"), Verdict.CORRUPT,
     "after 1 of 10 tokens: at token 2, shown 'x' (error: the chain failed after token 3; the "
     "client had not shown tokens 1..3)"),
    (failed(upto=0, diverged="at token 1, shown 'data: t1'", failure="cut",
            client_done_at=30.1),
     Verdict.CORRUPT,
     "after 0 of 10 tokens: at token 1, shown 'data: t1'; then it raised: cut (error: the "
     "chain failed after token 3; the client had not shown tokens 1..3)"),
    (failed(timed_out=True, deadline=30.0), Verdict.TIMEOUT,
     "the client had not finished at the 30 s deadline: 3 of 10 tokens surfaced and the end "
     "never came (error: the chain failed after token 3, and nothing ended the stream)"),
    (failed(upto=2, timed_out=True, deadline=30.0), Verdict.TIMEOUT,
     "the client had not finished at the 30 s deadline: 2 of 10 tokens surfaced and the end "
     "never came (error: the chain failed after token 3; the client had not shown tokens "
     "1..3)"),
    (failed(k=0, upto=0, timed_out=True, deadline=30.0), Verdict.TIMEOUT,
     "the client had not finished at the 30 s deadline: 0 of 10 tokens surfaced and the end "
     "never came (error: the chain failed before its first token, and nothing ended the "
     "stream)"),
]  # fmt: skip


@pytest.mark.parametrize(("f", "verdict", "detail"), ERROR)
def test_the_error_verdict_says_its_sentence(f: Facts, verdict: Verdict, detail: str) -> None:
    assert judge(f) == (verdict, detail)


# The bytes after token k: the server's emission of token k+1 (or of the end after the
# last token) where it said when, else the harness's release of them.

LATER_BYTES = [
    (cell(3, emitted_at=[10.0, 10.2, 10.3]), 1, 10.2),
    # The server said when it emitted token 1 only: token 2's release bounds it.
    (cell(3, emitted_at=[10.0], released_at=[10.0, 10.25, 10.25, 10.25], ended_at=10.4), 1,
     10.25),
    (cell(3, emitted_at=[10.0, 10.2, 10.3], ended_at=10.35), 3, 10.35),
    # A second request ran the chain again: its tokens are not the bytes after token 3.
    (cell(3, requests=2, emitted_at=[10.0, 10.2, 10.3, 10.6, 10.7, 10.8], ended_at=10.35), 3,
     10.35),
    # No end time from the server: the end's release.
    (cell(3, emitted_at=[10.0, 10.2, 10.3], released_at=[10.0, 10.2, 10.3, 10.4]), 3, 10.4),
    # Neither said nor released: not produced, so nothing surfaced after it.
    (cell(3, emitted_at=[10.0, 10.2, 10.3], released_at=[10.0, 10.2, 10.3]), 3, float("inf")),
    (cell(3), 2, float("inf")),
]  # fmt: skip


@pytest.mark.parametrize(("f", "k", "at"), LATER_BYTES)
def test_the_bytes_after_token_k_were_produced_at(f: Facts, k: int, at: float) -> None:
    assert later_bytes_at(f, k) == at


@pytest.mark.parametrize(
    ("stalled_at", "surfaced_at", "held", "early"),
    [
        # Token 3 (the last) stalled; the end was produced at 10.35.
        (3, [10.1, 10.2, 10.3], False, "surfaced it 50 ms before the next bytes"),
        (3, [10.1, 10.2, 10.35], True, ""),  # at the moment the end was produced
        (3, [10.1, 10.2], False, ""),  # never surfaced: neither held nor early
        (1, [10.1], False, "surfaced it 100 ms before the next bytes"),  # token 2 at 10.2
    ],
)
def test_a_stalled_token_is_held_or_early_by_the_clients_clock(
    stalled_at: int, surfaced_at: list[float], held: bool, early: str
) -> None:
    f = cell(3, stalled_at=stalled_at, emitted_at=[10.0, 10.2, 10.3], ended_at=10.35)
    f.surfaced_at = surfaced_at
    assert held_back(f) is held
    assert (early in unpaced(f)) if early else unpaced(f) == ""


def test_lags_are_measured_for_the_tokens_that_surfaced_only() -> None:
    # Token 1 surfaced 40 ms after its emission; tokens 2 and 3 were emitted, never shown.
    f = cell(1, emitted_at=[10.06, 10.2, 10.3], requested_at=10.02)
    first, p50, p99, duration = measure(f)
    assert (round(first or 0), round(p50 or 0), round(p99 or 0)) == (80, 40, 40)
    assert duration == pytest.approx(500.0)
