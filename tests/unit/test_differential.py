"""The differential: real clients against the spec corpus, through real sockets."""

from __future__ import annotations

import asyncio

import pytest

from streamcompat.clients import CLIENTS
from streamcompat.harness.engine.differential import (
    CASE_DEADLINE_S,
    SHOWN_CHARS,
    Outcome,
    events_of,
    expected_data,
    run_corpus,
    shown,
    sse_clients,
    table,
)
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources
from streamcompat.harness.spec.sse_corpus import CASES, LONG_DATA

CORPUS = {c.name: c for c in CASES}

BY_NAME = {c.name: c for c in CLIENTS}


def test_sse_clients_are_the_event_and_line_readers() -> None:
    names = [c.name for c in sse_clients(CLIENTS)]
    assert {"browser-eventsource", "httpx-sse", "requests-sseclient", "requests-lines"} <= set(
        names
    )
    assert "requests" not in names and "openai" not in names  # raw bytes; OpenAI-only


def test_line_clients_are_read_by_the_spec_rules() -> None:
    lines = BY_NAME["requests-lines"]
    assert events_of(lines, ["data: a", "data: b", ""]) == ["a\nb"]
    assert events_of(lines, ["data: a", "", "data: b", ""]) == ["a", "b"]  # a CRLF cut in two


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    clients = [BY_NAME["requests-lines"], BY_NAME["httpx-sse"], BY_NAME["browser-eventsource"]]
    return asyncio.run(run_corpus(clients, ["direct", "split"]))


def find(outcomes: list[Outcome], case: str, client: str, network: str) -> Outcome:
    return next(o for o in outcomes if (o.case, o.client, o.network) == (case, client, network))


def test_every_case_runs_for_every_client_and_network(outcomes: list[Outcome]) -> None:
    assert len(outcomes) == len(CASES) * 3 * 2


def test_known_deviation_iter_lines_splits_a_crlf_cut_across_reads(
    outcomes: list[Outcome],
) -> None:
    assert not find(outcomes, "crlf-split", "requests-lines", "direct").deviates
    cut = find(outcomes, "crlf-split", "requests-lines", "split")
    assert cut.error == "" and cut.got == ["a", "b"] and cut.expected == ["a\nb"]


def test_known_deviation_httpx_sse_keeps_the_bom(outcomes: list[Outcome]) -> None:
    # It read the stream to its end and produced no event (the BOM spoils the first
    # field name); a client that raised also has no events, but says why.
    bom = find(outcomes, "bom-stripped", "httpx-sse", "direct")
    assert bom.error == "" and bom.got == [] and bom.expected != []


def test_known_deviation_iter_lines_ends_lines_where_str_splitlines_does(
    outcomes: list[Outcome],
) -> None:
    # VT, FF and U+001C-U+001E are data to SSE; requests' iter_lines splits there.
    for network in ("direct", "split"):
        cut = find(outcomes, "data-c0-line-breaks", "requests-lines", network)
        assert cut.error == "" and cut.got == ["a"], network
        assert not find(outcomes, "data-c0-line-breaks", "httpx-sse", network).deviates


def test_known_deviation_httpx_sse_keeps_the_bom_before_event(outcomes: list[Outcome]) -> None:
    # '\ufeffevent' is an unknown field, so the named event comes out as a message.
    bom = find(outcomes, "bom-before-event", "httpx-sse", "direct")
    assert bom.error == "" and bom.got == ["a"] and bom.expected == []


def test_a_5_mib_line_is_recorded_short_and_a_slow_reader_hits_the_deadline(
    outcomes: list[Outcome],
) -> None:
    for network in ("direct", "split"):
        whole = find(outcomes, "data-line-5mib", "httpx-sse", network)
        assert not whole.deviates and whole.got == [shown(LONG_DATA)], network
        # requests' iter_lines copies the growing line per 512-byte read: ~14 s for 5 MiB.
        slow = find(outcomes, "data-line-5mib", "requests-lines", network)
        assert slow.error == f"no end within {CASE_DEADLINE_S:.0f} s" and slow.got == []


def test_long_data_is_recorded_as_its_head_length_and_digest() -> None:
    assert shown("x" * SHOWN_CHARS) == "x" * SHOWN_CHARS
    long = shown(LONG_DATA)
    assert len(long) < 100 and LONG_DATA[:20] in long and f"{len(LONG_DATA)} chars" in long
    changed = LONG_DATA[:-1] + "x"  # one character differs: the digest tells them apart
    assert shown(changed) != long and shown(LONG_DATA[:-1]) != long
    assert expected_data(CORPUS["data-line-5mib"]) == [long]


def test_chromium_eventsource_follows_the_spec(outcomes: list[Outcome]) -> None:
    browser = [o for o in outcomes if o.client == "browser-eventsource"]
    assert browser and not [o.case for o in browser if o.deviates]


def test_table_lists_deviations_with_events(outcomes: list[Outcome]) -> None:
    text = table(outcomes)
    assert "| crlf-split |" in text
    assert "`crlf-split` × requests-lines (split): expected ['a\\nb'], got ['a', 'b']" in text


def test_a_client_that_raised_is_told_apart_from_one_that_saw_nothing() -> None:
    saw_nothing = Outcome("bom-stripped", "httpx-sse", "direct", ["a"], [])
    raised = Outcome("bom-stripped", "httpx-sse", "split", ["a"], [], "ValueError: no")
    assert saw_nothing.deviates and raised.deviates
    text = table([saw_nothing, raised])
    assert "httpx-sse (direct): expected ['a'], got []" in text
    assert "httpx-sse (split): expected ['a'], raised 'ValueError: no'" in text


def test_a_client_that_raises_on_a_case_is_recorded_as_raised() -> None:
    # A library raising is a finding, never an empty list of events: whichever way it
    # raises, the outcome says what it raised.
    async def raises(request: Request, report: Reporter, resources: Resources) -> None:
        raise ValueError("the parser gave up")

    async def refuses(request: Request, report: Reporter, resources: Resources) -> None:
        raise ClientFailed("HTTP 500 Internal Server Error")

    clients = [Client("raises", "event", raises), Client("refuses", "event", refuses)]
    outcomes = asyncio.run(run_corpus(clients, ["direct"]))
    assert len(outcomes) == len(CASES) * 2
    assert {(o.client, o.error) for o in outcomes} == {
        ("raises", "ValueError: the parser gave up"),
        ("refuses", "HTTP 500 Internal Server Error"),
    }
    assert all(o.got == [] and o.deviates for o in outcomes)
