"""The differential: real clients against the spec corpus, through real sockets."""

from __future__ import annotations

import asyncio

import pytest

from streamcompat.clients import CLIENTS
from streamcompat.harness.engine.differential import (
    Outcome,
    events_of,
    run_corpus,
    sse_clients,
    table,
)
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources
from streamcompat.harness.spec.sse_corpus import CASES

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
