"""The abort and error scenarios' verdicts, as pure functions of facts, and cell keys."""

from __future__ import annotations

import pytest

from streamcompat.harness.kernel.model import Cell, Facts, Verdict
from streamcompat.harness.kernel.scenarios import SCENARIOS
from streamcompat.harness.kernel.verdicts import judge
from streamcompat.harness.outputs.baseline import RANK

TOKENS = [f"t{i} " for i in range(1, 11)]  # 10 tokens
K = 3


def streamed(upto: int, **facts: object) -> Facts:
    """A cell whose client surfaced tokens 1..upto exactly, each before the next."""
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain")
    f.surfaced_at = [10.0 + i for i in range(upto)]
    f.emitted_at = [9.5 + i for i in range(upto)]
    f.released_at = [9.4 + i for i in range(upto)]
    f.shown = "".join(TOKENS[:upto])
    for name, value in facts.items():
        setattr(f, name, value)
    return f


def left(**facts: object) -> Facts:
    """An abort cell whose client was asked to leave after token K, and left."""
    return streamed(K, abort_after=K, stop_requested_at=20.0, aborted_at=20.002, **facts)


# abort


def test_a_server_that_cancels_while_it_waits_stopped_generation() -> None:
    verdict, detail = judge(left(cancelled_at=20.005, generated=K + 1))
    assert verdict is Verdict.STOPPED
    assert "left after token 3" in detail and "3 ms later" in detail


def test_a_server_that_stops_only_when_it_next_writes_stopped_after_a_token() -> None:
    verdict, detail = judge(left(cancelled_at=21.5, generated=K + 2, let_run=True))
    assert verdict is Verdict.STOPPED
    assert "did not notice while its response waited" in detail and "1 more token " in detail


def test_generation_that_runs_to_its_end_after_the_client_left_is_a_leak() -> None:
    verdict, detail = judge(left(ended_at=21.6, generated=len(TOKENS), let_run=True))
    assert verdict is Verdict.LEAK
    assert "went on to token 10 of 10" in detail


def test_generation_neither_cancelled_nor_ended_is_a_leak() -> None:
    verdict, detail = judge(left(generated=K + 1, running_after=2.0, let_run=True))
    assert verdict is Verdict.LEAK
    assert "2 s later" in detail and "at token 4 of 10" in detail


def test_a_client_that_never_reached_token_k_gets_its_stream_verdict_with_a_note() -> None:
    facts = streamed(0, abort_after=K, ended=True)
    facts.shown = ""
    verdict, detail = judge(facts)
    assert verdict is Verdict.SILENT
    assert "never surfaced token 3, so it was not asked to leave" in detail


def test_a_client_asked_to_leave_that_does_not_is_an_error() -> None:
    facts = streamed(len(TOKENS), abort_after=K, stop_requested_at=20.0, ended=True)
    verdict, detail = judge(facts)
    assert verdict is Verdict.ERROR
    assert "did not say it had left" in detail


# error


def failed(upto: int = K, **facts: object) -> Facts:
    """An error cell: the harness let the failure (token K+1) out at 30.0."""
    f = streamed(upto, fail_after=K, **facts)
    f.released_at = [9.4 + i for i in range(K)] + [30.0] * (len(TOKENS) + 1 - K)
    return f


def test_a_client_that_raises_once_the_chain_failed_told_its_user() -> None:
    verdict, detail = judge(failed(failure="ChunkedEncodingError: cut", client_done_at=30.1))
    assert verdict is Verdict.TOLD
    assert "failed after token 3" in detail and "ChunkedEncodingError" in detail


def test_a_client_holding_text_back_that_raises_was_told_too() -> None:
    verdict, detail = judge(failed(upto=1, failure="cut", client_done_at=30.1))
    assert verdict is Verdict.TOLD
    assert "it had shown 1 of them" in detail


def failed_first(**facts: object) -> Facts:
    """An error-first cell: the chain raised instead of token 1, let out at 30.0."""
    f = streamed(0, fail_after=0, **facts)
    f.released_at = [30.0] * (len(TOKENS) + 1)
    return f


def test_a_chain_failing_before_its_first_token_and_an_empty_clean_end_is_truncated() -> None:
    # FastAPI's EventSourceResponse: 200, an empty body that ends cleanly, then it re-raises.
    verdict, detail = judge(failed_first(ended=True, end_note="end of body", client_done_at=30.1))
    assert verdict is Verdict.TRUNCATED
    assert "failed before its first token" in detail and "an empty answer" in detail


def test_a_chain_failing_before_its_first_token_and_a_cut_body_is_told() -> None:
    verdict, detail = judge(failed_first(failure="ChunkedEncodingError: cut", client_done_at=30.1))
    assert verdict is Verdict.TOLD
    assert "failed before its first token" in detail and "ChunkedEncodingError" in detail


def test_a_client_refusing_the_response_keeps_its_verdict_when_the_chain_failed_first() -> None:
    facts = failed_first(failure="EventSource refused text/plain", client_done_at=29.0)
    verdict, detail = judge(facts)
    assert verdict is Verdict.ERROR
    assert "failed before its first token, but the client had failed on the response" in detail


def test_a_client_that_failed_before_the_chain_did_gets_its_stream_verdict() -> None:
    facts = failed(upto=0, failure="refused", client_done_at=9.0, opened=False)
    facts.shown = ""
    verdict, detail = judge(facts)
    assert verdict is Verdict.ERROR
    assert "had not shown tokens 1..3" in detail


def test_a_clean_end_after_token_k_is_truncated() -> None:
    verdict, detail = judge(failed(ended=True, end_note="the body ended without an end marker"))
    assert verdict is Verdict.TRUNCATED
    assert "as if the stream were whole" in detail and "3 of 10 tokens" in detail


def test_eventsource_firing_error_as_at_any_end_is_truncated() -> None:
    verdict, detail = judge(failed(ended=True, replays=True))
    assert verdict is Verdict.TRUNCATED
    assert "reconnect" in detail


def test_the_failure_shown_as_data_after_token_k_told_the_user() -> None:
    verdict, detail = judge(failed(ended=True, diverged="unit 4 could not be decoded: error"))
    assert verdict is Verdict.TOLD
    assert "reached the user as data" in detail


def test_content_wrong_before_token_k_stays_corrupt_though_the_cut_made_it_raise() -> None:
    facts = failed(upto=0, diverged="at token 1, shown 'data: t1'", failure="cut")
    facts.client_done_at = 30.1
    verdict, detail = judge(facts)
    assert verdict is Verdict.CORRUPT
    assert "then it raised: cut" in detail


# the data around them


def test_stream_cells_keep_their_three_part_keys() -> None:
    assert Cell("sse", "httpx", "split").key == "sse × httpx × split"
    assert Cell("sse", "httpx", "direct", "abort").key == "sse × httpx × direct × abort"


@pytest.mark.parametrize(
    "cell", [Cell("sse", "httpx", "split"), Cell("a b", "c", "direct", "error")]
)
def test_a_key_names_its_cell(cell: Cell) -> None:
    assert Cell.from_key(cell.key) == cell


@pytest.mark.parametrize(
    "key", ["sse × httpx", "sse × httpx × direct × stream", "sse ×  × direct", "a × b × c × d × e"]
)
def test_a_key_that_names_no_cell_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="not a cell key"):
        Cell.from_key(key)


def test_every_verdict_has_a_rank_and_scenario_passes_rank_with_pass() -> None:
    assert set(RANK) == set(Verdict)
    assert RANK[Verdict.STOPPED] == RANK[Verdict.TOLD] == RANK[Verdict.PASS]
    assert RANK[Verdict.PASS] < RANK[Verdict.LEAK] < RANK[Verdict.CORRUPT]
    assert {v for v in Verdict if v.passed} == {Verdict.PASS, Verdict.STOPPED, Verdict.TOLD}


def test_scenarios_are_records_that_ask_for_what_they_need() -> None:
    assert SCENARIOS["stream"].abort_after == 0 and SCENARIOS["stream"].fail_after is None
    assert SCENARIOS["abort"].abort_after and SCENARIOS["abort"].fail_after is None
    assert SCENARIOS["error"].fail_after and not SCENARIOS["error"].abort_after
    # Before its first token: 0 is a failure point, not "no failure".
    assert SCENARIOS["error-first"].fail_after == 0 and not SCENARIOS["error-first"].abort_after


def test_each_scenario_is_gated_against_its_own_baseline() -> None:
    import argparse
    from pathlib import Path

    from streamcompat.harness.cli import baseline_path
    from streamcompat.servers.plugins import BUILTIN

    def path(script: str, scenario: str) -> Path | None:
        args = argparse.Namespace(baseline=None, script=script)
        return baseline_path(args, [BUILTIN], scenario)

    assert path("default", "stream") == Path("compat-baseline.json")
    assert path("default", "abort") == Path("compat-abort-baseline.json")
    assert path("limits", "stream") == Path("compat-limits-baseline.json")
    assert path("limits", "error") == Path("compat-limits-error-baseline.json")


# The branches each way a scenario cell can end that no table above feeds.


@pytest.mark.parametrize(
    ("f", "verdict", "words"),
    [
        # abort: asked to leave, the client neither left nor ended, and time ran out.
        (streamed(K, abort_after=K, stop_requested_at=20.0, timed_out=True, deadline=30.0),
         Verdict.TIMEOUT, "asked to leave after token 3, the client had not left by the 30 s"),
        # abort: it left; the server's record says nothing of the stream's run.
        (left(), Verdict.ERROR, "left after token 3, but the server kept no record"),
        # error: tokens 1..k shown, then nothing ended the stream before the deadline.
        (streamed(K, fail_after=K, timed_out=True, deadline=30.0), Verdict.TIMEOUT,
         "error: the chain failed after token 3, and nothing ended the stream"),
        # error: more than k tokens: the variant did not fail where the chain did, so the
        # stream's verdict is the cell's.
        (streamed(K + 1, fail_after=K, ended=True), Verdict.CORRUPT,
         "the stream ended after 4 of 10 tokens"),
    ],
)  # fmt: skip
def test_a_scenario_branch_no_other_table_takes(f: Facts, verdict: Verdict, words: str) -> None:
    got, detail = judge(f)
    assert got is verdict, detail
    assert words in detail, detail


@pytest.mark.parametrize(
    ("app", "arrived_at", "words"),
    [
        ("myapp", 0.0, "no response head within 5 s"),
        ("myapp", 10.2, "no response head within 5 s of the app calling the fake upstream"),
        ("", 0.0, "the request did not reach the server within 5 s"),
        ("", 10.2, "no response head within 5 s of the request reaching the server"),
    ],
)
def test_no_head_says_whose_head_did_not_come(app: str, arrived_at: float, words: str) -> None:
    f = Facts(tokens=list(TOKENS), app=app, arrived_at=arrived_at, no_head_within=5.0)
    verdict, detail = judge(f)
    assert verdict is Verdict.TIMEOUT and detail.startswith(words), detail
    if not app and arrived_at:
        assert "(the server sent none" in detail
