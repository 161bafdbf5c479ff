"""Wire cases with the events the WHATWG SSE spec says a client must see.

Each ``why`` cites the rule of "Parsing/Interpreting an event stream" that the case
exercises: the rules one by one here, then what peers' suites test
(``sse_corpus_peers``). ``Case`` and ``byte_chunks`` are in ``sse_case``.
"""

from __future__ import annotations

from streamcompat.harness.spec.sse_case import EDGE, PIECE, Case, byte_chunks
from streamcompat.harness.spec.sse_corpus_peers import LONG_DATA, PEER_CASES
from streamcompat.harness.spec.sse_oracle import Event

__all__ = ["CASES", "EDGE", "LONG_DATA", "PIECE", "RULE_CASES", "Case", "byte_chunks"]

RULE_CASES: tuple[Case, ...] = (
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
)

CASES: tuple[Case, ...] = (*RULE_CASES, *PEER_CASES)
