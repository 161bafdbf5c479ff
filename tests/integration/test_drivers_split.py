"""Every real Python and Node driver, and curl, through the ``split`` proxy.

A driver's own decoding is product code: an incremental UTF-8 decoder, a line reader's
handling of CR and LF, the end marker rule. Each driver reads a small real server's
body through the real ``Proxy("split")``, in lockstep (``tests.support.split_drive``),
with its writes ending inside 2-, 3- and 4-byte UTF-8 sequences, between a CR and its
LF, and (SSE) between the two line ends of the blank line that ends an event. The test
pins exactly what the driver surfaced, and that it surfaced each write's units before
the next write was sent.

The browser clients run the same JS (``fetch.js``, ``eventsource.js``) as the Node ones;
Chromium itself is the matrix's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamcompat.clients import CLIENTS
from streamcompat.harness.front.availability import unavailable
from streamcompat.harness.kernel.codecs import codec
from streamcompat.harness.kernel.model import Client
from tests.support.split_drive import Step, drive, expected

TEXT = "text/plain; charset=utf-8"
SSE = "text/event-stream"

# Text: each write ends inside a sequence (2 bytes at 1; 3 at 1 and 2; 4 at 1, 2 and 3),
# then between a CR and its LF. A decoder per read shows U+FFFD at each.
CHUNKS = (
    Step(b"Hello caf\xc3", ("Hello caf",)),
    Step(b"\xa9 \xe4", ("é ",)),
    Step(b"\xb8\xad\xe6\x96", ("中",)),
    Step(b"\x87 \xf0", ("文 ",)),
    Step(b"\x9f\x99\x82 \xf0\x9f", ("🙂 ",)),
    Step(b"\x8e\x89 \xf0\x9d\x84", ("🎉 ",)),
    Step(b"\x9e line\r", ("𝄞 line\r",)),
    Step(b"\nend\r\n", ("\nend\r\n",)),
)

# Lines, LF-ended but for one CRLF whose CR ends a write: inside a write the proxy's
# CR|LF cut may or may not reach a threaded reader as two reads.
LINE_WRITES = (
    b"Hello\ncaf\xc3",
    b"\xa9\n\xe4\xb8",
    b"\xad \xf0\x9f\x99\x82\none\r",
    b"\ntwo \xf0\x9f",
    b"\x8e\x89\n",
)
LINES = {
    # aiohttp ends lines at LF only; the driver takes the CR off.
    "aiohttp-lines": (("Hello",), ("café",), ("中 🙂",), ("one",), ("two 🎉",)),
    # requests' iter_lines ends a line at the CR, and again at an LF that starts the
    # next read: an empty line that is not in the body (DESIGN.md, "Facts").
    "requests-lines": (("Hello",), ("café",), ("中 🙂", "one"), ("",), ("two 🎉",)),
}

# SSE with CRLF line ends: each write completes an event and ends inside the next one:
# inside a sequence, between the CR and LF of a data line, between the two line ends
# of the blank line. Data keeps a leading space past the one the field takes; the end
# event's data is empty.
EVENTS = (
    Step(b": hi\r\ndata:  Hello\r\n\r\ndata: caf\xc3", (" Hello",)),
    Step(b"\xa9\r\n\r\ndata: \xe4\xb8", ("café",)),
    Step(b"\xad\xe6\x96\x87\r\n\r\ndata: \xf0\x9f\x99", ("中文",)),
    Step(b"\x82 ok\r\n\r\ndata: one\r", ("🙂 ok",)),
    Step(b"\ndata:  two\r\n\r\ndata: last\r\n", ("one\n two",)),
    Step(b"\r\nevent: end\r\ndata:\r\n\r\n", ("last",)),
)

# OpenAI chat.completion.chunk events, cut the same ways, after a chunk with no choices
# (Azure's content-filter preamble: nothing to show), ending with data: [DONE].
AZURE = b'data: {"choices":[],"prompt_filter_results":[]}\r\n\r\n'
OPEN = b'{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
OPEN += b'"choices":[{"index":0,"finish_reason":null,"delta":{"content":"'
CLOSE = b'"}}]}'
OPENAI = (
    Step(
        AZURE + b"data: " + OPEN + b"Hello" + CLOSE + b"\r\n\r\ndata: " + OPEN + b"caf\xc3",
        ("Hello",),
    ),
    Step(b"\xa9" + CLOSE + b"\r\n\r\ndata: " + OPEN + b"\xe4\xb8", ("café",)),
    Step(b"\xad" + CLOSE + b"\r\n\r\ndata: " + OPEN + b"\xf0\x9f\x99", ("中",)),
    Step(b"\x82" + CLOSE + b"\r\n\r\ndata: " + OPEN + b" two" + CLOSE + b"\r", ("🙂",)),
    Step(b"\n\r\ndata: " + OPEN + b" last" + CLOSE + b"\r\n", (" two",)),
    Step(b"\r\ndata: [DONE]\r\n\r\n", (" last",)),
)


# The AI SDK's UI message stream (LF, as its servers write it): a text delta cut inside
# sequences, one holding an escaped newline, one event ending between the two LFs of its
# blank line; the parts around the text show nothing.
def _delta(text: bytes) -> bytes:
    return b'data: {"type":"text-delta","id":"t0","delta":"' + text


UI_OPEN = b'data: {"type":"start"}\n\ndata: {"type":"text-start","id":"t0"}\n\n'
UI_CLOSE = b'data: {"type":"text-end","id":"t0"}\n\ndata: {"type":"finish"}\n\n'
AI_UI = (
    Step(UI_OPEN + _delta(b'Hello"}\n\n') + _delta(b"caf\xc3"), ("Hello",)),
    Step(b'\xa9"}\n\n' + _delta(b"\xe4\xb8"), ("café",)),
    Step(b'\xad\\n\xf0\x9f\x99\x82"}\n\n' + _delta(b' two"}\n'), ("中\n🙂",)),
    Step(b"\n" + UI_CLOSE + b"data: [DONE]\n", (" two",)),
    Step(b"\n"),
)

# langserve's /stream (CRLF, as sse-starlette writes it): a metadata event, data events
# whose JSON strings are cut inside sequences (one with an escaped newline), a write
# ending inside a field name, a data-less end event.
LANGSERVE = (
    Step(
        b'event: metadata\r\ndata: {"run_id": "r"}\r\n\r\n'
        b'event: data\r\ndata: "Hello"\r\n\r\nevent: data\r\ndata: "caf\xc3',
        ("Hello",),
    ),
    Step(b'\xa9"\r\n\r\nevent: data\r\ndata: "\xe4\xb8', ("café",)),
    Step(b'\xad\\n\xf0\x9f\x99\x82"\r\n\r\nevent: da', ("中\n🙂",)),
    Step(b'ta\r\ndata: " two"\r\n\r\nevent: end\r', (" two",)),
    Step(b"\n\r\n"),
)

BY_NAME = {c.name: c for c in CLIENTS}
#: The drivers a page runs: they share fetch.js and eventsource.js with the Node ones.
IN_BROWSER = frozenset(c.name for c in CLIENTS if c.group == "browser")


def _needs(client: Client) -> list[pytest.MarkDecorator]:
    """Skip a driver this machine cannot run, as ``streamcompat run`` does."""
    why = unavailable([client]).get(client.name)
    return [pytest.mark.skipif(why is not None, reason=why or "")]


def _case(
    client: Client, steps: tuple[Step, ...], content_type: str, end: str = "", note: str = ""
) -> Any:
    """One driver's row: the body, its content type, and the note the driver ends with."""
    name = f"{client.name}-{note}" if note else client.name
    return pytest.param(client, steps, content_type, end, id=name, marks=_needs(client))


def _lines(name: str) -> tuple[Step, ...]:
    shows = LINES[name]
    return tuple(Step(write, units) for write, units in zip(LINE_WRITES, shows, strict=True))


CASES = [
    _case(BY_NAME["requests"], CHUNKS, TEXT),
    # A content type with no charset requests knows: the driver's own decoder does it.
    _case(BY_NAME["requests"], CHUNKS, "application/x-ndjson", note="no-charset"),
    _case(BY_NAME["aiohttp"], CHUNKS, TEXT),
    _case(BY_NAME["httpx"], CHUNKS, TEXT),
    # Over plain HTTP no HTTP/2 is offered: httpx-h2 speaks HTTP/1.1, curl-h2 asks to
    # upgrade (h2c), is not taken up, and reads HTTP/1.1, decoding as their twins do.
    _case(BY_NAME["httpx-h2"], CHUNKS, TEXT),
    _case(BY_NAME["curl"], CHUNKS, TEXT),
    _case(BY_NAME["curl-h2"], CHUNKS, TEXT),
    _case(BY_NAME["node-fetch"], CHUNKS, TEXT),
    _case(BY_NAME["axios"], CHUNKS, TEXT),
    _case(BY_NAME["requests-lines"], _lines("requests-lines"), TEXT),
    _case(BY_NAME["aiohttp-lines"], _lines("aiohttp-lines"), TEXT),
    _case(BY_NAME["httpx-sse"], EVENTS, SSE, "end event"),
    _case(BY_NAME["requests-sseclient"], EVENTS, SSE, "end event"),
    _case(BY_NAME["node-eventsource"], EVENTS, SSE, "end event"),
    _case(BY_NAME["openai"], OPENAI, SSE),  # the SDK's iteration ends at [DONE]
    _case(BY_NAME["openai-node"], OPENAI, SSE),
    _case(BY_NAME["ai-text"], CHUNKS, TEXT),
    _case(BY_NAME["ai-ui"], AI_UI, SSE),
    _case(BY_NAME["langserve"], LANGSERVE, SSE),
]


def test_every_driver_outside_a_browser_has_a_case() -> None:
    cased = {p.values[0].name for p in CASES}
    assert cased == {c.name for c in CLIENTS} - IN_BROWSER


def _reader(client: Client) -> Callable[[str], str]:
    """What the user makes of a unit: an SDK's chunks (the only codec it reads) are read
    for their text, the OpenAI SDKs' for their delta."""
    if client.kind == "event" and client.codecs and len(client.codecs) == 1:
        return codec(next(iter(client.codecs)))
    return lambda unit: unit


@pytest.mark.parametrize(("client", "steps", "content_type", "end"), CASES)
def test_a_driver_shows_a_split_stream_exactly_and_as_it_comes(
    client: Client, steps: tuple[Step, ...], content_type: str, end: str
) -> None:
    stream = drive(client, steps, content_type, _reader(client))
    recorder = stream.recorder
    assert not stream.failure
    assert stream.cut, "the body did not go through the split proxy"
    assert recorder.status == 200
    assert len(stream.requests) == 1, f"one request, no retry or reconnect: {stream.requests}"
    assert recorder.seen() == expected(client, steps)
    assert recorder.end_note == end
    assert stream.held_back(steps) == [], "surfaced only after the next write was sent"


def test_httpx_sse_refuses_a_content_type_before_it_reports_a_head() -> None:
    # The error-first scenario tells a refusal from a told failure by the head: one
    # reported before the refusal would make a refusing client look told.
    client = BY_NAME["httpx-sse"]
    if why := unavailable([client]).get(client.name):
        pytest.skip(why)
    stream = drive(client, CHUNKS[:1], TEXT)
    assert stream.failure.startswith("SSEError: Expected response header Content-Type")
    assert stream.recorder.status == 0 and stream.recorder.seen() == []


def test_langserve_fails_on_a_chunk_holding_a_line_separator() -> None:
    # langserve's server writes a chunk with orjson, which leaves U+2028 raw in the JSON;
    # its client reads lines with httpx's aiter_lines, which cuts lines where
    # str.splitlines() does: the data line is cut there, and the half cannot be decoded.
    client = BY_NAME["langserve"]
    if why := unavailable([client]).get(client.name):
        pytest.skip(why)
    body = 'event: data\r\ndata: "one\u2028two"\r\n\r\nevent: end\r\n\r\n'.encode()
    stream = drive(client, (Step(body),), SSE, _reader(client))
    assert stream.failure.startswith("JSONDecodeError: unexpected end of data")
    assert stream.recorder.seen() == []


@pytest.mark.parametrize("name", ["openai", "openai-node"])
def test_the_openai_sdks_drop_a_last_event_without_its_blank_line(name: str) -> None:
    # openai-node#2725: a server that ends the body right after the last event's data line
    # loses that chunk; the SSE spec discards an unterminated last event, and both SDKs do.
    client = BY_NAME[name]
    if why := unavailable([client]).get(client.name):
        pytest.skip(why)
    body = b"data: " + OPEN + b"Hello" + CLOSE + b"\n\ndata: " + OPEN + b" last" + CLOSE + b"\n"
    stream = drive(client, (Step(body, ("Hello",)),), SSE, _reader(client))
    assert not stream.failure
    assert stream.recorder.seen() == ["Hello"] and stream.recorder.end_note == ""


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("openai", "JSONDecodeError: Expecting value"),
        ("openai-node", "ClientFailed: Unexpected end of JSON input"),
    ],
)
def test_the_openai_sdks_fail_on_a_keepalive_event(name: str, failure: str) -> None:
    # openai-node#1964: every event but thread.* ones is parsed as a chunk's JSON, so a
    # proxy's or gateway's `event: keepalive` with empty data ends the stream with an error.
    client = BY_NAME[name]
    if why := unavailable([client]).get(client.name):
        pytest.skip(why)
    body = b"event: keepalive\ndata: \n\ndata: " + OPEN + b"Hello" + CLOSE + b"\n\ndata: [DONE]\n\n"
    stream = drive(client, (Step(body),), SSE, _reader(client), step_bound=2.0)
    assert stream.failure.startswith(failure) and stream.recorder.seen() == []
