"""Tests for the spec-exact SSE oracle and its wire corpus."""

from __future__ import annotations

import re

import pytest

from streamcompat.harness.spec.sse_corpus import CASES, Case
from streamcompat.harness.spec.sse_oracle import Event, SSEDecoder, parse

BY_NAME = {case.name: case for case in CASES}


def feed_chunks(chunks: list[bytes]) -> list[Event]:
    decoder = SSEDecoder()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    assert isinstance(request.param, Case)
    return request.param


def test_corpus_is_well_formed() -> None:
    assert len(CASES) >= 20
    assert len(BY_NAME) == len(CASES), "case names must be unique"
    for c in CASES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", c.name), c.name
        assert c.why.strip().endswith("."), c.name


def test_whole(case: Case) -> None:
    assert parse(case.wire) == list(case.events)


def test_byte_by_byte(case: Case) -> None:
    chunks = [case.wire[i : i + 1] for i in range(len(case.wire))]
    assert feed_chunks(chunks) == list(case.events)


def test_every_two_chunk_split(case: Case) -> None:
    for cut in range(len(case.wire) + 1):
        got = feed_chunks([case.wire[:cut], case.wire[cut:]])
        assert got == list(case.events), f"split at byte {cut}"


def test_events_arrive_as_soon_as_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [Event(data="a")]
    # A CR already ends the line; an LF in the next chunk must not add a blank line.
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\ndata: c\r") == []
    assert decoder.feed(b"\n\r") == [Event(data="b\nc")]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: d\n\n") == [Event(data="d")]


def test_bom_only_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb") == []
    assert decoder.feed(b"\xbfdata: a\n\n") == [Event(data="a")]
    # A BOM later in the stream is not stripped: the field name becomes unknown.
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == []
    assert parse(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []
    assert parse(b"\xef\xbb\xbf") == []


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"retry: 1000\n", 1000),
        (b"retry:0\n", 0),
        (b"retry: 5\nretry: 7\n", 7),
        (b"retry: 9\n", 9),  # every ASCII digit, the last one too
        (b"retry: 5\nretry: 1A\n", 5),  # a letter between "9" and "x" is no digit either
        (b"retry: 1290\n", 1290),
        (b"retry: 5\nretry: 1x\n", 5),  # an invalid value keeps the previous one
        (b"retry: -5\n", None),
        (b"retry: +5\n", None),
        (b"retry: 1.5\n", None),
        (b"retry:  5\n", None),  # second space is part of the value
        (b"retry: 5 \n", None),
        (b"retry\n", None),
        (b"retry:\n", None),
        ("retry: ١٢\n".encode(), None),  # Unicode digits are not ASCII digits
        (b"Retry: 5\n", None),
    ],
)
def test_retry(wire: bytes, expected: int | None) -> None:
    decoder = SSEDecoder()
    decoder.feed(wire)
    assert decoder.retry == expected


def test_retry_applies_without_dispatch() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 3000\ndata: never dispatched\n")
    decoder.close()
    assert decoder.retry == 3000


def test_retry_from_corpus() -> None:
    valid = SSEDecoder()
    valid.feed(BY_NAME["retry-valid"].wire)
    assert valid.retry == 1000
    bogus = SSEDecoder()
    bogus.feed(BY_NAME["retry-bogus"].wire)
    assert bogus.retry is None


def test_last_event_id_state() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id == ""
    decoder.feed(b"id: 1\ndata: a\n")
    assert decoder.last_event_id == "", "committed only at dispatch"
    decoder.feed(b"\n")
    assert decoder.last_event_id == "1"
    decoder.feed(b"id: 2\n\n")  # no data, no event, but the id is committed
    assert decoder.last_event_id == "2"
    decoder.feed(b"id: x\x00y\n\n")
    assert decoder.last_event_id == "2"
    decoder.feed(b"id\n\n")
    assert decoder.last_event_id == ""
    decoder.feed(b"id: 3\n")
    assert decoder.close() == []
    assert decoder.last_event_id == "", "an undispatched id never becomes the last event ID"


@pytest.mark.parametrize(
    "tail",
    [b"data: b\n", b"data: b", b"data: b\r", b"event: x\nid: 9\n", b"data: \xe4\xb8"],
)
def test_close_discards_unterminated_block(tail: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n" + tail) == [Event(data="a")]
    assert decoder.close() == []
    assert decoder.last_event_id == ""


def test_close_on_fresh_decoder() -> None:
    assert SSEDecoder().close() == []


def test_an_event_is_a_message_with_empty_fields_unless_told_and_cannot_change() -> None:
    import dataclasses

    assert Event() == Event("message", "", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Event().data = "x"  # type: ignore[misc]
