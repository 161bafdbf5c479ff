"""The ``split`` network: its cut rule, and the client bugs it exists to catch.

``split_cuts`` is pinned byte-exactly.  Then clients that each make one classic wrong
assumption about reads take a stream through a real ``Proxy`` on loopback: on
``direct`` they happen to work; on ``split`` each is caught, while a careful client
still gets every character, line and event.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

import pytest

from streamcompat.harness.engine.proxy import split_cuts
from streamcompat.harness.kernel.tokens import LONG_TOKEN
from streamcompat.harness.spec.sse_oracle import SSEDecoder
from tests.integration.test_proxy import PIECES, cut_pieces, reads_through

# The rule, byte-exactly.


@pytest.mark.parametrize(
    ("wire", "pieces"),
    [
        # inside the field name, after its colon, between the bytes of é, between CR
        # and LF, and between the two line ends of the blank line
        ("data: é\r\n\r\n".encode(), [b"d", b"ata:", b" \xc3", b"\xa9\r", b"\n", b"\r", b"\n"]),
        # every byte of a 4-byte and of a 3-byte sequence in its own piece
        ("🙂中".encode(), [b"\xf0", b"\x9f", b"\x99", b"\x82\xe4", b"\xb8", b"\xad"]),
        (b"event: end\ndata:\n\n", [b"e", b"vent:", b" end\n", b"d", b"ata:", b"\n", b"\n"]),
        # a comment line; bare CR line ends
        (b": ping\rdata: x\r\r", [b":", b" ping\r", b"d", b"ata:", b" x\r", b"\r"]),
        # an HTTP chunk: its size line and its CRLF are cut like any other line
        (
            b"a\r\ndata: Hi\n\n\r\n",
            [b"a", b"\r", b"\n", b"d", b"ata:", b" Hi\n", b"\n", b"\r", b"\n"],
        ),
        # a field only at a line start: not JSON's colons, not a second colon
        (b'{"a": 1}\ndata: id: 7\n', [b"{", b'"a": 1}\n', b"d", b"ata:", b" id: 7\n"]),
        (b"x", [b"x"]),
    ],
)
def test_split_cuts_where_parsers_break(wire: bytes, pieces: list[bytes]) -> None:
    assert cut_pieces(wire) == pieces


def test_split_cuts_as_offsets() -> None:
    assert split_cuts("data: é\r\n\r\n".encode()) == [1, 5, 7, 9, 10, 11]
    assert split_cuts(b"") == []


def test_split_cuts_a_long_write_in_509_byte_pieces_past_512_bytes() -> None:
    assert split_cuts(b"x" * 2000) == [1, 512, 1021, 1530]
    assert split_cuts(b"\n" * 600) == list(range(1, 513))  # the rule stops at 512 bytes


def _inside(wire: bytes, cut: int) -> tuple[int, int] | None:
    """(offset, length) of the UTF-8 sequence that ``cut`` falls inside, if any."""
    start = cut
    while start > 0 and wire[start] & 0xC0 == 0x80:  # back over continuation bytes
        start -= 1
    if start == cut:
        return None
    length = 2 if wire[start] < 0xE0 else 3 if wire[start] < 0xF0 else 4
    return cut - start, length


def test_split_cuts_the_long_token_at_many_offsets_in_few_pieces() -> None:
    wire = b"data: " + LONG_TOKEN.encode() + b"\n\n"  # 67 KB
    cuts = split_cuts(wire)
    assert len(cuts) < 300  # not one write per byte
    inside = [_inside(wire, cut) for cut in cuts if cut > 512]
    cut_sequences = [where for where in inside if where is not None]
    assert len(cut_sequences) >= 25
    assert set(cut_sequences) == {(1, 2), (1, 3), (2, 3)}  # é, and 中/文 at both offsets


# Mutant clients, each with one wrong assumption about what a read holds.

ASCII_EVENTS = [b"data: hello\n\n", b"data: world\n\n", b"data: [DONE]\n\n"]
CRLF_EVENTS = [b"data: one\r\ndata: two\r\n\r\n", b"data: three\r\n\r\n"]


def decode_each_read(reads: list[bytes]) -> str:
    """Wrong: decodes every read on its own, as if reads ended on characters."""
    return "".join(data.decode("utf-8", "replace") for data in reads)


def decode_incrementally(reads: list[bytes]) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return "".join(decoder.decode(data) for data in reads) + decoder.decode(b"", final=True)


def lines_per_read(reads: list[bytes]) -> list[bytes]:
    """Wrong, as requests ``iter_lines``: ``splitlines()`` per read, carrying only an
    unterminated last line, so a CR at the end of one read and the LF at the start of
    the next make two line ends."""
    lines: list[bytes] = []
    pending = b""
    for data in reads:
        chunk = pending + data
        pending = b""
        parts = chunk.splitlines()
        if parts and not chunk.endswith((b"\r", b"\n")):
            pending = parts.pop()
        lines += parts
    return lines + ([pending] if pending else [])


def data_lines_per_read(reads: list[bytes]) -> list[bytes]:
    """Wrong, the common fetch() SSE loop: each read split into lines, ``data: `` taken."""
    return [
        line[len(b"data: ") :]
        for data in reads
        for line in data.split(b"\n")
        if line.startswith(b"data: ")
    ]


def events_per_read(reads: list[bytes]) -> list[bytes]:
    """Wrong: keeps bytes across reads, but looks for an event's end within one read."""
    events: list[bytes] = []
    held = b""
    for data in reads:
        held += data
        if b"\n\n" in data:
            *blocks, held = held.split(b"\n\n")
            events += [block.removeprefix(b"data: ") for block in blocks]
    return events


def sse_events(reads: list[bytes]) -> list[str]:
    """The careful client: a spec-exact incremental SSE parser."""
    decoder = SSEDecoder()
    return [event.data for data in reads for event in decoder.feed(data)]


NETWORKS = ["direct", "split"]


@pytest.mark.parametrize("network", NETWORKS)
def test_split_breaks_decoding_each_read_alone(network: str) -> None:
    reads = reads_through(network, PIECES)
    text = b"".join(PIECES).decode()
    assert decode_incrementally(reads) == text
    if network == "split":
        assert "\ufffd" in decode_each_read(reads)
    else:
        assert decode_each_read(reads) == text


def test_split_cuts_the_long_token_on_the_wire() -> None:
    wire = b"data: " + LONG_TOKEN.encode() + b"\n\n"
    reads = reads_through("split", [wire])
    assert decode_incrementally(reads) == wire.decode()
    # mojibake throughout, not only in the first 512 bytes of a read
    tail = decode_each_read(reads)[1000:]
    assert tail.count("\ufffd") >= 25


@pytest.mark.parametrize("network", NETWORKS)
def test_split_breaks_a_line_reader_that_splits_crlf(network: str) -> None:
    reads = reads_through(network, CRLF_EVENTS)
    lines = [b"data: one", b"data: two", b"", b"data: three", b""]
    assert b"".join(reads).splitlines() == lines
    if network == "split":
        # CR | LF became two line ends: a blank line that ends the event after "one"
        assert lines_per_read(reads)[:3] == [b"data: one", b"", b"data: two"]
    else:
        assert lines_per_read(reads) == lines


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("mutant", [data_lines_per_read, events_per_read])
def test_split_breaks_sse_parsers_that_want_whole_lines_or_events(
    network: str, mutant: Callable[[list[bytes]], list[bytes]]
) -> None:
    reads = reads_through(network, ASCII_EVENTS)
    assert sse_events(reads) == ["hello", "world", "[DONE]"]
    found = mutant(reads)
    if network == "split":
        assert found == []  # d|ata: and \n|\n are never in one read
    else:
        assert found == [b"hello", b"world", b"[DONE]"]
