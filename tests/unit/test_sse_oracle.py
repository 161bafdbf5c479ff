"""Tests for the spec-exact SSE oracle and its wire corpus."""

from __future__ import annotations

import re

import pytest

from streamcompat.harness.spec.sse_corpus import CASES, EDGE, PIECE, Case, byte_chunks
from streamcompat.harness.spec.sse_oracle import Event, SSEDecoder, parse

BY_NAME = {case.name: case for case in CASES}
#: A case longer than this is cut in two only near its line ends and its own ends (every
#: cut of a 5 MiB line would parse it 5 million times).
EVERY_CUT_BYTES = 4096


def two_chunk_cuts(wire: bytes) -> list[int]:
    if len(wire) <= EVERY_CUT_BYTES:
        return list(range(len(wire) + 1))
    near = [0, len(wire), *(m.start() for m in re.finditer(rb"[\r\n]", wire))]
    return sorted({p + d for p in near for d in range(-3, 4) if 0 <= p + d <= len(wire)})


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
    assert feed_chunks(byte_chunks(case.wire)) == list(case.events)


def test_every_two_chunk_split(case: Case) -> None:
    for cut in two_chunk_cuts(case.wire):
        got = feed_chunks([case.wire[:cut], case.wire[cut:]])
        assert got == list(case.events), f"split at byte {cut}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.last_event_id is not None], ids=lambda c: c.name
)
def test_last_event_id_at_the_end(case: Case) -> None:
    decoder = SSEDecoder()
    decoder.feed(case.wire)
    decoder.close()
    assert decoder.last_event_id == case.last_event_id


def test_the_corpus_holds_the_peer_suites_behaviours() -> None:
    """What peers' suites test, each in a case (issue #17, item 5)."""

    def has(pattern: bytes) -> bool:
        return any(re.search(pattern, case.wire) for case in CASES)

    for char in ("\u2028", "\u2029", "\u0085"):
        assert has(rb"^data: [^\r\n]*" + re.escape(char.encode()))
    assert has(rb"\r\r\n")
    for ending in (rb"\r", rb"\r\n"):  # on a comment and on an unknown field, mid-block
        assert has(rb"\n: [^\r\n]*" + ending + rb"data")
        assert has(rb"\nfoo: [^\r\n]*" + ending + rb"data")
    assert has(rb"\ndata\n") and has(rb"^ data")  # colon-less; a leading space
    assert has(rb"^event:  ")  # one space only, on event too
    assert has(rb"^data: a\nevent: ") and has(rb"^data: a\nid: ")
    assert any(case.wire.count(b"\n\n") >= 100 for case in CASES)
    assert any(len(case.wire) >= 5 << 20 for case in CASES)
    assert has(b":" + b" " * 2048 + b"\n")
    assert has(rb"^\xef\xbb\xbf:") and has(rb"^\xef\xbb\xbfevent:")
    assert has(rb"^data:\ndata: ") and has(rb"\ndata:\ndata: ")
    assert any(c.last_event_id is not None and not c.wire.endswith(b"\n\n") for c in CASES)


def test_byte_chunks_are_single_bytes_but_in_a_long_run() -> None:
    for case in CASES:
        chunks = byte_chunks(case.wire)
        assert b"".join(chunks) == case.wire, case.name
        if max(map(len, re.split(rb"[\r\n]", case.wire))) <= 2 * EDGE:
            assert all(len(c) == 1 for c in chunks), case.name
    wire = BY_NAME["data-line-5mib"].wire
    long_line = byte_chunks(wire)
    assert len(long_line) < 2000  # not 5 million
    # the line's first and last bytes, and its two LFs, each on its own; the rest in pieces
    assert long_line[:EDGE] == [wire[i : i + 1] for i in range(EDGE)]
    assert len(long_line[EDGE]) == PIECE
    last = range(len(wire) - EDGE - 2, len(wire))
    assert long_line[-EDGE - 2 :] == [wire[i : i + 1] for i in last]


def test_cr_then_crlf_cut_at_every_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [Event(data="a")], "a CR after a CR is a blank line"
    assert decoder.feed(b"\n") == [], "the LF is the second CR's, not a line of its own"
    assert decoder.feed(b"data: b\n\n") == [Event(data="b")]


@pytest.mark.parametrize("line", [b": note", b"foo: bar", b"foo"])
def test_an_ignored_lines_crlf_cut_after_its_cr_is_one_line_end(line: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n" + line + b"\r") == []
    assert decoder.feed(b"\ndata: b\n\n") == [Event(data="a\nb")]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1e"])
def test_only_cr_and_lf_end_a_line(separator: str) -> None:
    wire = f"data: a{separator}b\n: c{separator}data: d\n\n".encode()
    assert parse(wire) == [Event(data=f"a{separator}b")]


def test_a_long_event_in_small_chunks_is_the_same_event() -> None:
    # Many data fields and a line longer than any chunk: joined once, in order.
    wire = b"".join(b"data: %d\n" % k for k in range(5000)) + b"data: " + b"x" * 70000 + b"\n\n"
    expected = [Event(data="\n".join([*map(str, range(5000)), "x" * 70000]))]
    assert feed_chunks([wire[i : i + 7] for i in range(0, len(wire), 7)]) == expected
    assert parse(wire) == expected


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
