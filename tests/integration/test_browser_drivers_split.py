"""The front ends' browser drivers (XHR, axios three ways, fetch-event-source) through the
``split`` proxy, in Chromium, in lockstep (``tests.support.split_drive``), as
``test_drivers_split.py`` drives the others: exactly what each surfaced, and whether it
surfaced each write's units before the next write was sent, or held them back.

A text/plain response reaches an XHR only once Chromium has sniffed it (up to 1 KiB, or
the end), unless it says ``X-Content-Type-Options: nosniff``; fetch is never sniffed.
"""

from __future__ import annotations

import pytest

from streamcompat.clients import CLIENTS
from streamcompat.harness.front.availability import unavailable
from streamcompat.harness.kernel.model import Client
from tests.integration.test_drivers_split import CHUNKS, EVENTS, SSE, TEXT
from tests.support.split_drive import Step, drive, expected

BY_NAME = {c.name: c for c in CLIENTS}
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
#: A client that shows nothing before the end is waited for this long per write at most:
#: the wait only paces the writes; held back is judged by the client's own clock.
SHORT_STEP_S = 1.0


def _client(name: str) -> Client:
    client = BY_NAME[name]
    if why := unavailable([client]).get(name):
        pytest.skip(why)
    return client


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("browser-xhr", NOSNIFF),
        # onDownloadProgress comes at most 3 times a second (axios#11147): slower, not held.
        ("browser-axios-progress", NOSNIFF),
        ("browser-axios-fetch", {}),
    ],
)
def test_a_byte_reader_shows_a_split_stream_exactly_and_as_it_comes(
    name: str, headers: dict[str, str]
) -> None:
    client = _client(name)
    stream = drive(client, CHUNKS, TEXT, headers=headers)
    assert not stream.failure
    assert stream.cut, "the body did not go through the split proxy"
    assert stream.recorder.status == 200 and len(stream.requests) == 1
    assert stream.recorder.seen() == expected(client, CHUNKS)
    assert stream.recorder.end_note == ""
    assert stream.held_back(CHUNKS) == [], "surfaced only after the next write was sent"


@pytest.mark.parametrize("name", ["browser-xhr", "browser-axios-progress"])
def test_an_xhr_on_sniffed_text_plain_shows_nothing_before_the_end(name: str) -> None:
    client = _client(name)
    stream = drive(client, CHUNKS, TEXT, step_bound=SHORT_STEP_S)
    assert not stream.failure
    assert stream.recorder.seen() == expected(client, CHUNKS)  # exact, only late
    assert stream.held_back(CHUNKS) == list(range(1, len(CHUNKS)))


def test_awaited_axios_shows_the_whole_body_once_at_the_end() -> None:
    # `await axios.post(...)` with the default (XHR) adapter: the seed's "axios shows
    # nothing until it's done", even where the XHR itself is not sniffed.
    client = _client("browser-axios")
    stream = drive(client, CHUNKS, TEXT, headers=NOSNIFF, step_bound=SHORT_STEP_S)
    assert not stream.failure
    assert [unit for unit, _ in stream.recorder.payloads] == ["".join(expected(client, CHUNKS))]
    assert stream.held_back(CHUNKS) == list(range(1, len(CHUNKS)))
    assert len(stream.requests) == 1 and stream.requests[0][0] == "POST"


def test_fetch_event_source_shows_split_events_exactly_and_as_they_come() -> None:
    client = _client("browser-fetch-event-source")
    stream = drive(client, EVENTS, SSE)
    assert not stream.failure
    assert stream.cut
    assert stream.requests == [("POST", "/v/split")], "one POST, no retry"
    assert stream.recorder.seen() == expected(client, EVENTS)
    assert stream.recorder.end_note == "end event"
    assert stream.held_back(EVENTS) == []


def test_fetch_event_source_fires_for_a_comment_and_drops_a_leading_empty_data_line() -> None:
    # Its own line reader: a block of only a comment is an event with empty data
    # (fetch-event-source#15), and data that starts with an empty line loses it (the spec
    # joins "" and "x" as "\nx").
    client = _client("browser-fetch-event-source")
    steps = (
        Step(b": keep-alive\r\n\r\n", ("",)),
        Step(b"data:\r\ndata: x\r\n\r\n", ("x",)),
        Step(b"event: end\r\ndata:\r\n\r\n"),
    )
    stream = drive(client, steps, SSE)
    assert not stream.failure
    assert stream.recorder.seen() == ["", "x"]
    assert stream.recorder.end_note == "end event"


def test_fetch_event_source_reports_a_body_that_ends_without_the_end_marker() -> None:
    # A clean end is not retried (only errors are): one request, and the end said.
    client = _client("browser-fetch-event-source")
    steps = EVENTS[:-1]
    stream = drive(client, steps, SSE)
    assert not stream.failure
    assert stream.recorder.seen() == expected(client, steps)
    assert stream.recorder.end_note == "the body ended without an end marker"
    assert len(stream.requests) == 1


def test_fetch_event_source_retries_a_refused_response_once_here_then_fails() -> None:
    # It re-requests after every error until onerror throws (fetch-event-source#79); the
    # driver lets one retry through, so the server sees it, and ends the cell on the next.
    client = _client("browser-fetch-event-source")
    stream = drive(client, CHUNKS[:1], TEXT)
    assert stream.failure.startswith("ClientFailed: Expected content-type to be text/event-stream")
    assert "on its retry" in stream.failure
    assert stream.requests == [("POST", "/v/split")] * 2
    assert stream.recorder.seen() == []
