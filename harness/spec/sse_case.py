"""One corpus case, and how the replay's ``split`` cuts a case into single bytes.

How a case is cut into reads is up to its user (the tests, the replay's ``split``);
``byte_chunks`` is the cut into single bytes, bounded for long lines.
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
