"""Every browser driver in Firefox through the ``split`` proxy, in lockstep
(``tests.support.split_drive``), as ``test_browser_drivers_split.py`` drives them in
Chromium: exactly what each surfaced, and whether it surfaced each write's units before
the next write was sent, or held them back.

Where Firefox differs: it does not sniff a ``text/plain`` response before an XHR sees it
(Chromium holds up to 1 KiB, or the end, unless ``X-Content-Type-Options: nosniff``), so
an XHR and axios' ``onDownloadProgress`` show a plain text stream as it comes.
"""

from __future__ import annotations

import pytest

from streamcompat.clients import FIREFOX_CLIENTS
from streamcompat.harness.front.availability import unavailable
from streamcompat.harness.kernel.model import Client
from tests.integration.test_drivers_split import CHUNKS, EVENTS, SSE, TEXT
from tests.support.split_drive import Step, drive, expected

BY_NAME = {c.name: c for c in FIREFOX_CLIENTS}
#: A client that shows nothing before the end is waited for this long per write at most:
#: the wait only paces the writes; held back is judged by the client's own clock.
SHORT_STEP_S = 1.0
#: The body and what a driver ends with, by how it reads.
READS: dict[str, tuple[tuple[Step, ...], str, str]] = {
    "chunk": (CHUNKS, TEXT, ""),
    "event": (EVENTS, SSE, "end event"),
}


def _client(name: str) -> Client:
    client = BY_NAME[name]
    if why := unavailable([client]).get(name):
        pytest.skip(why)
    return client


@pytest.mark.parametrize(
    "name",
    [
        "firefox-fetch",
        "firefox-eventsource",
        "firefox-fetch-sse",
        # No nosniff: Firefox hands an XHR a text/plain body as it comes.
        "firefox-xhr",
        "firefox-axios-progress",  # at most 3 times a second (axios#11147): slower, not held
        "firefox-axios-fetch",
        "firefox-fetch-event-source",
    ],
)
def test_a_firefox_driver_shows_a_split_stream_exactly_and_as_it_comes(name: str) -> None:
    client = _client(name)
    steps, content_type, end = READS[client.kind]
    stream = drive(client, steps, content_type)
    assert not stream.failure
    assert stream.cut, "the body did not go through the split proxy"
    assert stream.recorder.status == 200
    assert len(stream.requests) == 1, f"one request, no retry or reconnect: {stream.requests}"
    assert stream.recorder.seen() == expected(client, steps)
    assert stream.recorder.end_note == end
    assert stream.held_back(steps) == [], "surfaced only after the next write was sent"


def test_awaited_axios_in_firefox_shows_the_whole_body_once_at_the_end() -> None:
    client = _client("firefox-axios")
    stream = drive(client, CHUNKS, TEXT, step_bound=SHORT_STEP_S)
    assert not stream.failure
    assert [unit for unit, _ in stream.recorder.payloads] == ["".join(expected(client, CHUNKS))]
    assert stream.held_back(CHUNKS) == list(range(1, len(CHUNKS)))
    assert len(stream.requests) == 1 and stream.requests[0][0] == "POST"


def test_every_firefox_column_has_a_split_test() -> None:
    assert set(BY_NAME) == {
        "firefox-fetch", "firefox-eventsource", "firefox-fetch-sse", "firefox-xhr",
        "firefox-axios", "firefox-axios-progress", "firefox-axios-fetch",
        "firefox-fetch-event-source",
    }  # fmt: skip
