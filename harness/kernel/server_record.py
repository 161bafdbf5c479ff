"""The server's record of one stream, typed, parsed once where it arrives.

The variant server (``servers.control``) sends it over its control channel as JSON: the
emission times, what the model run did, and what its response put on the wire (bytes as
latin-1 text, one character per byte, since JSON carries no bytes). ``parse_record`` turns
that into a ``ServerRecord`` with bytes back as bytes; nothing after it reads the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamcompat.harness.kernel.model import Connection, Wire, Write

__all__ = ["RecordError", "ServerRecord", "parse_record", "parse_wire"]


class RecordError(ValueError):
    """The server's record is not of the form the harness reads (a harness defect)."""


@dataclass(frozen=True, slots=True)
class ServerRecord:
    emitted_at: tuple[float, ...] = ()  # when the server emitted each token
    ended_at: float = 0.0  # when the response ended
    requests: int = 0  # requests seen for the stream (a replaying client makes more)
    released: int = 0  # tokens the harness let the server emit
    done: bool = False  # the token source ran out (every token emitted)
    head_at: float = 0.0  # when the response head went out
    started: bool = False  # the response began
    consumed: bool = False  # the response read the token stream
    generated: int = 0  # tokens the model produced
    cancelled_at: float = 0.0  # when the model run was cancelled (the client left)
    left: bool = False  # the model run was let run on after the client left
    finished: bool = False  # the model run is over
    error: str = ""  # what the response raised, if it did
    wire: Wire | None = None  # what the response sent; None if no head went out
    connections: tuple[Connection, ...] = ()  # what its requests came on, in order


def parse_record(record: Any) -> ServerRecord:
    """``record`` from the control channel, checked and typed; RecordError if malformed."""
    if not isinstance(record, dict):
        raise RecordError(f"a server record is an object, not {type(record).__name__}")
    try:
        return ServerRecord(
            emitted_at=tuple(float(t) for t in record.get("emitted_at") or ()),
            ended_at=float(record.get("ended_at") or 0.0),
            requests=int(record.get("requests") or 0),
            released=int(record.get("released") or 0),
            done=bool(record.get("done")),
            head_at=float(record.get("head_at") or 0.0),
            started=bool(record.get("started")),
            consumed=bool(record.get("consumed")),
            generated=int(record.get("generated") or 0),
            cancelled_at=float(record.get("cancelled_at") or 0.0),
            left=bool(record.get("left")),
            finished=bool(record.get("finished")),
            error=str(record.get("error") or ""),
            wire=parse_wire(record.get("wire")),
            connections=tuple(_connection(c) for c in record.get("connections") or ()),
        )
    except (TypeError, ValueError, AttributeError, UnicodeEncodeError) as exc:
        raise RecordError(f"malformed server record: {exc}") from exc


def _connection(kept: list[Any]) -> Connection:
    request, port, nodelay = kept
    return Connection(str(request), int(port), None if nodelay is None else bool(nodelay))


def parse_wire(record: Any) -> Wire | None:
    """The response's ``wire`` part: None when no response head went out."""
    if not record or not record.get("status"):
        return None

    def write(kept: list[Any]) -> Write:
        at, data, *rest = kept
        left_out, tail = rest if rest else (0, "")
        return Write(float(at), data.encode("latin-1"), int(left_out), tail.encode("latin-1"))

    return Wire(
        status=int(record["status"]),
        headers=tuple((str(k), str(v)) for k, v in record.get("headers") or ()),
        writes=tuple(write(w) for w in record.get("writes") or ()),
        sent_bytes=int(record.get("sent_bytes") or 0),
        sent_writes=int(record.get("sent_writes") or 0),
        ended_at=float(record.get("ended_at") or 0.0),
    )
