"""The corpus cases for what peers' SSE suites test, restated from the WHATWG spec.

Line breaks other than CR and LF, line ends cut across reads on lines that are ignored,
colon-less lines, the one-space rule on ``event``, field order, volume, the BOM before
other lines, empty data lines, and the last event ID an unterminated block leaves.
"""

from __future__ import annotations

from streamcompat.harness.spec.sse_case import Case
from streamcompat.harness.spec.sse_oracle import Event

MiB = 1 << 20
#: The 5 MiB data line: a digit pattern, so that a client which loses or repeats a piece
#: of it shows that in the data's length and content.
LONG_DATA = ("0123456789" * (5 * MiB // 10 + 1))[: 5 * MiB]
PADDING = b" " * 2048  # the 2 KiB comment servers send first, for old proxies and browsers

PEER_CASES: tuple[Case, ...] = (
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
