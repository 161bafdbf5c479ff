"""Wire cases with the events the WHATWG SSE spec says a client must see.

Each ``why`` cites the rule of "Parsing/Interpreting an event stream" that
the case exercises. How a case is cut into reads is up to its user (the tests, the
replay's ``split``); ``byte_chunks`` is the cut into single bytes, bounded for long lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streamcompat.harness.spec.sse_oracle import Event


@dataclass(frozen=True)
class Case:
    name: str
    wire: bytes
    events: tuple[Event, ...]
    why: str
    #: The event source's last event ID string once the stream has ended (what a
    #: reconnection sends as Last-Event-ID); None where the case does not state it.
    last_event_id: str | None = None


MiB = 1 << 20
#: The 5 MiB data line: a digit pattern, so that a client which loses or repeats a piece
#: of it shows that in the data's length and content.
LONG_DATA = ("0123456789" * (5 * MiB // 10 + 1))[: 5 * MiB]
PADDING = b" " * 2048  # the 2 KiB comment servers send first, for old proxies and browsers

#: ``byte_chunks`` keeps single bytes within this many of a line end or of the wire's
#: ends; the middle of a longer run goes in pieces of ``PIECE`` bytes (odd, so that they
#: fall at many offsets of a pattern), so a 5 MiB line is ~1,300 chunks, not 5 million.
EDGE = 64
PIECE = 4093
_LINE_ENDS = re.compile(rb"([\r\n])")


def byte_chunks(wire: bytes) -> list[bytes]:
    """``wire`` cut into single bytes, except in the middle of a run of more than
    2 * EDGE bytes without CR or LF: every cut where a parser meets a line end or a field,
    at a bounded cost."""
    chunks: list[bytes] = []
    for run in _LINE_ENDS.split(wire):
        if len(run) <= 2 * EDGE:
            chunks.extend(run[i : i + 1] for i in range(len(run)))
            continue
        head, middle, tail = run[:EDGE], run[EDGE:-EDGE], run[-EDGE:]
        chunks.extend(head[i : i + 1] for i in range(EDGE))
        chunks.extend(middle[i : i + PIECE] for i in range(0, len(middle), PIECE))
        chunks.extend(tail[i : i + 1] for i in range(EDGE))
    return chunks


CASES: tuple[Case, ...] = (
    Case(
        "empty-stream",
        b"",
        (),
        "No lines means nothing to dispatch.",
    ),
    Case(
        "single-event-lf",
        b"data: hello\n\n",
        (Event(data="hello"),),
        "A blank line dispatches the buffered data as a 'message' event.",
    ),
    Case(
        "line-endings-cr",
        b"data: a\r\rdata: b\r\r",
        (Event(data="a"), Event(data="b")),
        "A lone CR not followed by LF ends a line.",
    ),
    Case(
        "line-endings-crlf",
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        (Event(data="a"), Event(data="b")),
        "A CRLF pair is a single line ending.",
    ),
    Case(
        "line-endings-mixed",
        b"data: a\rdata: b\ndata: c\r\n\r\n",
        (Event(data="a\nb\nc"),),
        "CR, LF and CRLF are all valid line endings and may be mixed in one stream.",
    ),
    Case(
        "lf-cr-two-endings",
        b"data: a\n\rdata: b\n\n",
        (Event(data="a"), Event(data="b")),
        "LF then CR is two line endings (an empty line), unlike CRLF which is one.",
    ),
    Case(
        "crlf-split",
        b"data: a\r\ndata: b\r\n\r\n",
        (Event(data="a\nb"),),
        "A CR ending one chunk and an LF starting the next are still one CRLF line ending.",
    ),
    Case(
        "bom-stripped",
        b"\xef\xbb\xbfdata: x\n\n",
        (Event(data="x"),),
        "One leading U+FEFF BOM at the start of the stream is ignored.",
    ),
    Case(
        "bom-twice",
        b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n",
        (),
        "Only one BOM is stripped, so the field name is '\\ufeffdata', an unknown field.",
    ),
    Case(
        "bom-in-data-kept",
        b"data: \xef\xbb\xbfx\n\n",
        (Event(data="\ufeffx"),),
        "A U+FEFF that is not the first character of the stream is ordinary text.",
    ),
    Case(
        "bom-mid-stream",
        b"data: a\n\n\xef\xbb\xbfdata: b\n\n",
        (Event(data="a"),),
        "A BOM after the start of the stream makes the field name '\\ufeffdata', which is ignored.",
    ),
    Case(
        "no-space-after-colon",
        b"data:x\n\n",
        (Event(data="x"),),
        "The space after the colon is optional.",
    ),
    Case(
        "two-spaces-keep-one",
        b"data:  x\n\n",
        (Event(data=" x"),),
        "Only a single leading U+0020 SPACE is removed from the value.",
    ),
    Case(
        "tab-kept",
        b"data:\tx\n\n",
        (Event(data="\tx"),),
        "Only U+0020 SPACE is stripped after the colon; a tab is part of the value.",
    ),
    Case(
        "trailing-space-kept",
        b"data: x \n\n",
        (Event(data="x "),),
        "Values are not trimmed at the end.",
    ),
    Case(
        "multiline-data",
        b"data: a\ndata: b\ndata: c\n\n",
        (Event(data="a\nb\nc"),),
        "Each data field appends value plus LF; one trailing LF is removed on dispatch.",
    ),
    Case(
        "data-empty-lines",
        b"data\ndata\n\n",
        (Event(data="\n"),),
        "Two empty data fields give buffer '\\n\\n', dispatched as '\\n'.",
    ),
    Case(
        "data-no-colon",
        b"data\n\n",
        (Event(data=""),),
        "A line without a colon is a field with an empty value; 'data' still appends LF.",
    ),
    Case(
        "data-colon-empty",
        b"data:\n\n",
        (Event(data=""),),
        "An empty data value still appends LF, so an event with empty data fires.",
    ),
    Case(
        "colon-in-value",
        b"data: a:b: c\n\n",
        (Event(data="a:b: c"),),
        "The line is split at the first colon only.",
    ),
    Case(
        "data-token-in-data",
        b"data: data: x\n\n",
        (Event(data="data: x"),),
        "The text after the first colon is the value, even if it looks like a field.",
    ),
    Case(
        "comment-only",
        b": hello\n:\n\n",
        (),
        "Lines starting with a colon are ignored, so the blank line finds an empty data buffer.",
    ),
    Case(
        "comment-between",
        b"data: a\n: note\ndata: b\n\n",
        (Event(data="a\nb"),),
        "A comment line inside a block does not affect the buffers.",
    ),
    Case(
        "unknown-field-ignored",
        b"foo: bar\ndata: x\n\n",
        (Event(data="x"),),
        "Fields other than event, data, id and retry are ignored.",
    ),
    Case(
        "field-name-case",
        b"Data: x\nEVENT: y\n\n",
        (),
        "Field names are compared exactly, so 'Data' and 'EVENT' are unknown fields.",
    ),
    Case(
        "field-name-space",
        b"data : x\n\n",
        (),
        "The field name is everything before the colon, here 'data ', which is unknown.",
    ),
    Case(
        "leading-blank-lines",
        b"\n\r\n\rdata: a\n\n",
        (Event(data="a"),),
        "Blank lines with an empty data buffer dispatch nothing.",
    ),
    Case(
        "no-data-no-event",
        b"event: end\n\n",
        (),
        "If the data buffer is empty on dispatch, no event fires.",
    ),
    Case(
        "type-reset-no-data",
        b"event: end\n\ndata: x\n\n",
        (Event(data="x"),),
        "A dispatch with empty data still resets the event type buffer.",
    ),
    Case(
        "event-type-named",
        b"event: update\ndata: x\n\ndata: y\n\n",
        (Event(type="update", data="x"), Event(data="y")),
        "The event field sets the type, and the type buffer is reset after each dispatch.",
    ),
    Case(
        "event-type-empty",
        b"event: a\nevent:\ndata: x\n\n",
        (Event(data="x"),),
        "The last event field wins, and an empty type dispatches as 'message'.",
    ),
    Case(
        "unterminated-block",
        b"data: a\n\ndata: b\n",
        (Event(data="a"),),
        "At end of stream pending data is discarded; the block lacks its blank line.",
    ),
    Case(
        "unterminated-line",
        b"data: a\n\ndata: b",
        (Event(data="a"),),
        "An incomplete final line and its block are discarded at end of stream.",
    ),
    Case(
        "id-persists",
        b"id: 1\ndata: a\n\ndata: b\n\n",
        (Event(data="a", last_event_id="1"), Event(data="b", last_event_id="1")),
        "The last event ID buffer is not reset on dispatch, so it carries over to later events.",
    ),
    Case(
        "id-nul-ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        (Event(data="a", last_event_id="1"), Event(data="b", last_event_id="1")),
        "An id value containing U+0000 NULL is ignored.",
    ),
    Case(
        "id-empty-resets",
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        (Event(data="a", last_event_id="1"), Event(data="b")),
        "An id field with an empty value sets the last event ID to the empty string.",
    ),
    Case(
        "id-without-data",
        b"id: 7\n\ndata: a\n\n",
        (Event(data="a", last_event_id="7"),),
        "The last event ID string is updated at dispatch even when no event fires.",
    ),
    Case(
        "retry-valid",
        b"retry: 1000\ndata: a\n\n",
        (Event(data="a"),),
        "An all-ASCII-digit retry sets the reconnection time and does not affect events.",
    ),
    Case(
        "retry-bogus",
        b"retry: 1x\nretry: -5\nretry:  7\ndata: a\n\n",
        (Event(data="a"),),
        "A retry value that is not only ASCII digits is ignored.",
    ),
    Case(
        "nul-in-data",
        b"data: a\x00b\n\n",
        (Event(data="a\x00b"),),
        "Only the id field rejects U+0000; data keeps it.",
    ),
    Case(
        "utf8-non-ascii",
        "data: é 中文 😀\n\n".encode(),
        (Event(data="é 中文 😀"),),
        "The stream is decoded as UTF-8, including multi-byte and astral characters.",
    ),
    Case(
        "invalid-utf8",
        b"data: \xff\xe4\xb8x\n\n",
        (Event(data="\ufffd\ufffdx"),),
        "Invalid bytes decode to U+FFFD, one per maximal invalid subsequence.",
    ),
    Case(
        "latin1-charset-ignored",
        b"data: caf\xe9\n\n",
        (Event(data="caf\ufffd"),),
        "The stream is always UTF-8 regardless of any charset, so a Latin-1 byte is invalid.",
    ),
    # --- Only CR and LF end lines: Unicode's other line breaks are text -------------------
    Case(
        "data-unicode-line-breaks",
        "data: a\u2028b\u2029c\u0085d\n\n".encode(),
        (Event(data="a\u2028b\u2029c\u0085d"),),
        "Only CRLF, LF and CR end a line; U+2028, U+2029 and U+0085 are data characters.",
    ),
    Case(
        "data-c0-line-breaks",
        b"data: a\x0bb\x0cc\x1cd\x1de\x1ef\n\n",
        (Event(data="a\x0bb\x0cc\x1cd\x1de\x1ef"),),
        "VT, FF and U+001C to U+001E (line breaks to str.splitlines) are data characters.",
    ),
    Case(
        "comment-unicode-line-break",
        ": a\u2028data: b\n\ndata: c\n\n".encode(),
        (Event(data="c"),),
        "A comment runs to CR or LF: text after a U+2028 in it is still the comment.",
    ),
    # --- Line ends cut across reads -----------------------------------------------------------
    Case(
        "cr-cr-lf",
        b"data: a\r\r\ndata: b\r\n\r\n",
        (Event(data="a"), Event(data="b")),
        "CR then CRLF is two line ends (the second makes a blank line), however they are cut.",
    ),
    Case(
        "comment-cr-in-block",
        b"data: a\n: note\rdata: b\n\n",
        (Event(data="a\nb"),),
        "A lone CR ends a comment line too; the next field belongs to the same block.",
    ),
    Case(
        "comment-crlf-in-block",
        b"data: a\n: note\r\ndata: b\n\n",
        (Event(data="a\nb"),),
        "A comment's CRLF is one line end, so its LF (if in the next read) is no blank line.",
    ),
    Case(
        "unknown-field-cr-in-block",
        b"data: a\nfoo: bar\rdata: b\n\n",
        (Event(data="a\nb"),),
        "A lone CR ends an ignored field's line too; the next field belongs to the same block.",
    ),
    Case(
        "unknown-field-crlf-in-block",
        b"data: a\nfoo: bar\r\ndata: b\n\n",
        (Event(data="a\nb"),),
        "An ignored field's CRLF is one line end, so its LF is no blank line.",
    ),
    # --- Lines without a colon, and field names -----------------------------------------------
    Case(
        "data-no-colon-between",
        b"data: a\ndata\ndata: b\n\n",
        (Event(data="a\n\nb"),),
        "A colon-less 'data' line is the field with an empty value: it appends an LF.",
    ),
    Case(
        "event-no-colon-resets",
        b"event: update\nevent\ndata: a\n\n",
        (Event(data="a"),),
        "A colon-less 'event' line sets the type to empty, which dispatches as 'message'.",
    ),
    Case(
        "unknown-no-colon-ignored",
        b"foo\ndata: a\n\n",
        (Event(data="a"),),
        "A colon-less line is a field named by the whole line; an unknown one is ignored.",
    ),
    Case(
        "space-only-line",
        b"data: a\n \ndata: b\n\n",
        (Event(data="a\nb"),),
        "A line of one space is not blank: it is a field named ' ', ignored, and dispatches "
        "nothing.",
    ),
    Case(
        "field-name-leading-space",
        b" data: a\n\n",
        (),
        "The field name is everything before the colon, here ' data', which is unknown.",
    ),
    # --- One space after the colon, on event too ----------------------------------------------
    Case(
        "event-two-spaces",
        b"event:  message\ndata: a\n\n",
        (Event(type=" message", data="a"),),
        "Only one space is removed, so the type is ' message', not 'message'.",
    ),
    Case(
        "event-no-space",
        b"event:update\ndata: a\n\ndata: b\n\n",
        (Event(type="update", data="a"), Event(data="b")),
        "The space after the colon is optional on event too: the type is 'update'.",
    ),
    Case(
        "event-trailing-space",
        b"event: message \ndata: a\n\n",
        (Event(type="message ", data="a"),),
        "Values are not trimmed at the end, so the type is 'message ', not 'message'.",
    ),
    # --- Field order within a block -----------------------------------------------------------
    Case(
        "data-before-event",
        b"data: a\nevent: update\n\ndata: b\n\n",
        (Event(type="update", data="a"), Event(data="b")),
        "The type is read at dispatch, so an event field after the data still names it.",
    ),
    Case(
        "data-before-id",
        b"data: a\nid: 7\n\n",
        (Event(data="a", last_event_id="7"),),
        "The id buffer is committed at dispatch, so an id after the data is the event's.",
        last_event_id="7",
    ),
    # --- Volume -------------------------------------------------------------------------------
    Case(
        "hundred-events-one-read",
        b"".join(b"data: %d\n\n" % k for k in range(100)),
        tuple(Event(data=str(k)) for k in range(100)),
        "Every blank line dispatches, however many events one read holds.",
    ),
    Case(
        "data-line-5mib",
        b"data: " + LONG_DATA.encode() + b"\n\n",
        (Event(data=LONG_DATA),),
        "The spec sets no limit on a line's length: a 5 MiB data line is one event.",
    ),
    Case(
        "comments-2kib",
        b":" + PADDING + b"\ndata: a\n\n:" + PADDING + b"\ndata: b\n:" + PADDING + b"\n\n",
        (Event(data="a"), Event(data="b")),
        "A comment is ignored whatever its length, before an event or inside one.",
    ),
    # --- The BOM before other lines -----------------------------------------------------------
    Case(
        "bom-before-comment",
        b"\xef\xbb\xbf: hello\ndata: a\n\n",
        (Event(data="a"),),
        "The BOM is stripped before parsing, so the first line is a comment.",
    ),
    Case(
        "bom-before-event",
        b"\xef\xbb\xbfevent: update\ndata: a\n\n",
        (Event(type="update", data="a"),),
        "The BOM is stripped before parsing, so the first field is 'event', not '\\ufeffevent'.",
    ),
    # --- Empty data lines ---------------------------------------------------------------------
    Case(
        "data-empty-first",
        b"data:\ndata: a\n\n",
        (Event(data="\na"),),
        "An empty data value still appends an LF, first in the block too.",
    ),
    Case(
        "data-empty-between",
        b"data: a\ndata:\ndata: b\n\n",
        (Event(data="a\n\nb"),),
        "An empty data value between others appends an LF: an empty line in the data.",
    ),
    Case(
        "data-empty-last",
        b"data: a\ndata:\n\n",
        (Event(data="a\n"),),
        "Only one trailing LF is removed on dispatch, so an empty last value leaves one.",
    ),
    # --- The last event ID at the end of the stream -------------------------------------------
    Case(
        "id-unterminated-block",
        b"id: 1\ndata: a\n\nid: 2\ndata: b\n",
        (Event(data="a", last_event_id="1"),),
        "An unterminated last block is discarded with its id: the last event ID stays '1'.",
        last_event_id="1",
    ),
    Case(
        "id-unterminated-line",
        b"id: 1\ndata: a\n\nid: 2",
        (Event(data="a", last_event_id="1"),),
        "An unterminated last line is discarded: its id never becomes the last event ID.",
        last_event_id="1",
    ),
)
