"""Spec-exact Server-Sent Events parser used as the reference ("oracle").

Follows the WHATWG HTML Living Standard, "Server-sent events":
"Parsing an event stream" and "Interpreting an event stream".
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

BOM = "\ufeff"
# CRLF first, so that a CR followed by LF in the same text is one line ending.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Event:
    """One dispatched event, as a MessageEvent would expose it."""

    type: str = "message"
    data: str = ""
    last_event_id: str = ""


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit() also accepts e.g. "²" or Arabic-Indic digits; the spec
    # says ASCII digits. An empty value is not an integer, so it is ignored.
    return value != "" and all("0" <= ch <= "9" for ch in value)


class SSEDecoder:
    """Incremental decoder: feed bytes in any chunking, get the same events."""

    def __init__(self) -> None:
        # The stream is always UTF-8; a Content-Type charset is ignored.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True  # no character decoded yet (for the BOM rule)
        # Pieces of text after the last line ending, not yet a line, and the values of the
        # block's data fields: lists joined once, so that an event of n bytes costs O(n)
        # whatever its chunking (``+=`` on an attribute copies the whole buffer each time).
        self._line: list[str] = []
        self._skip_lf = False  # last char was a CR: a following LF is the same line ending
        self._data: list[str] = []
        self._event_type = ""
        self._last_event_id_buffer = ""
        # The event source's "last event ID string": committed only on dispatch,
        # and what a client would send as Last-Event-ID on reconnection.
        self.last_event_id = ""
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._decoder.decode(chunk)
        if self._at_start and text:
            self._at_start = False
            if text.startswith(BOM):  # only one, only at the very start
                text = text[1:]
        return self._feed_text(text)

    def close(self) -> list[Event]:
        """End of stream: the unterminated block is discarded, so nothing is dispatched
        (a truncated UTF-8 sequence could only add U+FFFD to it, never a line end). The
        decoder is done: a reconnection is a new stream, with a new decoder."""
        return []

    def _feed_text(self, text: str) -> list[Event]:
        events: list[Event] = []
        pos = 0
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                pos = 1
        for end in _LINE_END.finditer(text, pos):
            piece = text[pos : end.start()]
            if self._line:
                self._line.append(piece)
                piece = "".join(self._line)
                self._line.clear()
            pos = end.end()
            if pos == len(text) and end.group() == "\r":
                self._skip_lf = True  # the LF of a CRLF may arrive in the next chunk
            event = self._process_line(piece)
            if event is not None:
                events.append(event)
        if pos < len(text):
            self._line.append(text[pos:])
        return events

    def _process_line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]  # exactly one space; tabs and further spaces stay
        if name == "event":
            self._event_type = value
        elif name == "data":
            self._data.append(value)  # the spec appends value + LF: joined with LF below
        elif name == "id" and "\0" not in value:
            self._last_event_id_buffer = value
        elif name == "retry" and _is_ascii_digits(value):
            # Takes effect at once, even if the block is never dispatched.
            self.retry = int(value)
        # Anything else is ignored: other field names (matching is
        # case-sensitive), an id containing NUL, a retry that is not digits.
        return None

    def _dispatch(self) -> Event | None:
        # The id is committed even when no event fires; the buffer is not reset.
        self.last_event_id = self._last_event_id_buffer
        if not self._data:
            self._event_type = ""
            return None
        # value + LF per field, less the last LF: the values joined with LF.
        event = Event(self._event_type or "message", "\n".join(self._data), self.last_event_id)
        self._data = []
        self._event_type = ""
        return event


def parse(stream: bytes) -> list[Event]:
    """Parse a complete stream (the unterminated last block is discarded)."""
    decoder = SSEDecoder()
    return decoder.feed(stream) + decoder.close()
