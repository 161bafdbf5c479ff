"""The server's record, parsed once where it arrives: every field typed, bytes back as
bytes, a malformed record a RecordError (the cell then has no server record)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamcompat.harness.kernel.model import Connection
from streamcompat.harness.kernel.server_record import (
    RecordError,
    ServerRecord,
    parse_record,
    parse_wire,
)
from streamcompat.servers.control import Streams, WireCapture

EVERY_BYTE = bytes(range(256))


def over_the_channel(record: dict[str, Any]) -> Any:
    return json.loads(json.dumps(record))


def test_an_empty_take_is_the_empty_record() -> None:
    record = parse_record(over_the_channel(Streams().take("nobody")))
    assert record == ServerRecord()


def test_the_fields_keep_their_values_and_types() -> None:
    raw = {
        "emitted_at": [1, 2.5], "ended_at": 3, "requests": 2, "released": 4, "done": 1,
        "head_at": 0.5, "started": True, "consumed": True, "generated": 7,
        "cancelled_at": 2.75, "left": True, "finished": True, "error": "boom", "wire": None,
    }  # fmt: skip
    record = parse_record(raw)
    assert record.emitted_at == (1.0, 2.5) and isinstance(record.emitted_at[0], float)
    assert (record.ended_at, record.requests, record.released) == (3.0, 2, 4)
    assert record.done is True and record.head_at == 0.5 and record.generated == 7
    assert (record.started, record.consumed, record.left, record.finished) == (True,) * 4
    assert record.cancelled_at == 2.75 and record.error == "boom" and record.wire is None


def test_wire_bytes_come_back_as_the_bytes_sent() -> None:
    capture = WireCapture()
    capture.head({"status": 200, "headers": [(b"content-type", b"text/plain")]})
    capture.wrote(EVERY_BYTE[:100], 0.25, more=True)
    capture.wrote(EVERY_BYTE[100:], 0.5, more=False)
    wire = parse_wire(over_the_channel(capture.record()))
    assert wire is not None and wire.status == 200
    assert b"".join(w.data + w.tail for w in wire.writes) == EVERY_BYTE
    assert [w.at for w in wire.writes] == [0.25, 0.5] and wire.ended_at == 0.5
    assert wire.headers == (("content-type", "text/plain"),)


@pytest.mark.parametrize("wire", [None, {}, {"status": 0}, {"status": None, "writes": []}])
def test_no_response_head_is_no_wire(wire: Any) -> None:
    assert parse_wire(wire) is None


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "record",
        None,
        {"emitted_at": ["soon"]},
        {"requests": "two"},
        {"emitted_at": 5},
        {"wire": {"status": "ok"}},
        {"wire": {"status": 200, "writes": [[0.0]]}},
        {"wire": {"status": 200, "writes": [[0.0, "é€"]]}},  # not latin-1: not bytes
        {"connections": [["first", 4711]]},
        {"connections": [["stream", "a port", True]]},
    ],
)
def test_a_malformed_record_is_a_record_error(raw: Any) -> None:
    with pytest.raises(RecordError):
        parse_record(raw)


def test_connections_come_back_in_order_with_their_nodelay() -> None:
    record = parse_record(
        {"connections": [["first", 4711, None], ["stream", 4711, False], ["stream", 4712, 1]]}
    )
    assert record.connections == (
        Connection("first", 4711, None),
        Connection("stream", 4711, False),
        Connection("stream", 4712, True),
    )
