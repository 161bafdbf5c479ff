"""Wire capture: what the variant server sent on a stream, bounded, and how it travels —
over the control channel, into ``Facts``, into ``index.json`` — with every byte kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from starlette.types import Message, Receive, Scope, Send

from streamcompat.harness.engine.server import ServerProcess
from streamcompat.harness.kernel.model import Wire, Write
from streamcompat.harness.kernel.server_record import parse_wire
from streamcompat.harness.outputs.results import wire_record
from streamcompat.servers.control import (
    WIRE_KEEP_BYTES,
    WIRE_KEEP_WRITES,
    WRITE_EDGE,
    Streams,
    WireCapture,
)
from streamcompat.servers.framings import SSE_END, sse

TOKENS = ["a", " b", "\nc", " é🙂"]
EVERY_BYTE = bytes(range(256))


def kept(wire: WireCapture) -> bytes:
    """The bytes a record keeps, in order (left-out middles skipped)."""
    return b"".join((w[1] + (w[3] if len(w) == 4 else "")).encode("latin-1") for w in wire.writes)


def test_short_writes_are_kept_whole_with_their_times() -> None:
    wire = WireCapture()
    wire.wrote(b"data: a\n\n", 1.5, more=True)
    wire.wrote(b"data: b\n\n", 2.5, more=True)
    assert wire.writes == [[1.5, "data: a\n\n"], [2.5, "data: b\n\n"]]
    assert (wire.sent_bytes, wire.sent_writes, wire.ended_at) == (18, 2, 0.0)


def test_the_bodys_empty_last_message_ends_it_without_counting_as_a_write() -> None:
    wire = WireCapture()
    wire.wrote(b"x", 1.0, more=True)
    wire.wrote(b"", 2.0, more=False)
    assert wire.sent_writes == 1 and wire.ended_at == 2.0 and len(wire.writes) == 1


def test_a_long_write_keeps_its_edges_and_counts_its_middle() -> None:
    body = b"data: " + b"x" * 10_000 + b"\n\n"
    wire = WireCapture()
    wire.wrote(body, 1.0, more=True)
    [(at, first, left_out, last)] = wire.writes
    assert at == 1.0
    assert first.encode("latin-1") == body[:WRITE_EDGE]
    assert last.encode("latin-1") == body[-WRITE_EDGE:]  # the framing at its end survives
    assert left_out == len(body) - 2 * WRITE_EDGE and wire.sent_bytes == len(body)


def test_a_stream_keeps_at_most_its_budget_and_counts_the_rest() -> None:
    wire = WireCapture()
    for k in range(3 * WIRE_KEEP_BYTES // 400):
        wire.wrote(bytes([k % 256]) * 400, float(k), more=True)
    assert len(kept(wire)) == WIRE_KEEP_BYTES  # the last kept write was cut to fit
    assert wire.sent_bytes == 400 * (3 * WIRE_KEEP_BYTES // 400)
    assert wire.sent_writes == 3 * WIRE_KEEP_BYTES // 400 > len(wire.writes)
    assert kept(wire) == b"".join(bytes([k % 256]) * 400 for k in range(500))[:WIRE_KEEP_BYTES]


def test_a_stream_of_tiny_writes_keeps_at_most_its_write_bound() -> None:
    wire = WireCapture()
    for k in range(WIRE_KEEP_WRITES + 50):
        wire.wrote(b".", float(k), more=True)
    assert len(wire.writes) == WIRE_KEEP_WRITES and wire.sent_writes == WIRE_KEEP_WRITES + 50


def test_every_byte_survives_the_control_channel_facts_and_index() -> None:
    wire = WireCapture()
    wire.head({"status": 200, "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    wire.wrote(EVERY_BYTE, 10.25, more=True)  # 256 bytes: kept whole
    wire.wrote(EVERY_BYTE * 4, 10.5, more=True)  # 1024 bytes: first and last 256
    wire.wrote(b"", 10.75, more=False)
    # As the control channel carries it (a JSON line), then as the harness records it.
    facts = parse_wire(json.loads(json.dumps(wire.record())))
    assert facts is not None
    assert facts.writes == (
        Write(10.25, EVERY_BYTE),
        Write(10.5, EVERY_BYTE, 512, EVERY_BYTE),
    )
    assert facts.headers == (("content-type", "text/plain; charset=utf-8"),)
    assert facts.truncated and facts.sent_bytes == 1280 and facts.ended_at == 10.75
    # As index.json stores it: latin-1 text, milliseconds from the cell's start.
    record = json.loads(json.dumps(wire_record(facts, cell_began=10.0), ensure_ascii=False))
    assert record["server_sent"][0] == [250.0, EVERY_BYTE.decode("latin-1")]
    at, first, left_out, last = record["server_sent"][1]
    assert (at, left_out) == (500.0, 512)
    assert first.encode("latin-1") == last.encode("latin-1") == EVERY_BYTE
    assert record["ended_ms"] == 750.0 and record["truncated"] is True
    assert record["status"] == 200 and record["sent_writes"] == 2


def test_a_record_with_no_response_head_is_noparse_wire() -> None:
    assert parse_wire(None) is None and parse_wire(WireCapture().record()) is None
    assert wire_record(None, 0.0) is None
    assert not Wire(sent_bytes=1, writes=(Write(0.0, b"x"),)).truncated


def test_observe_keeps_each_streams_writes_and_take_forgets_them() -> None:
    streams = Streams()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/v":
            streams.start("s1")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await send({"type": "http.response.body", "body": b"two", "more_body": False})

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[Message]]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        observed = streams.observe(app)
        await observed({"type": "http", "path": "/health"}, receive, send)
        await observed({"type": "http", "path": "/v"}, receive, send)
        return streams.take("s1"), streams.take("s1"), sent

    record, again, sent = asyncio.run(main())
    assert [m.get("body") for m in sent if m["type"] == "http.response.body"] == [
        b"one",
        b"two",
        b"one",
        b"two",
    ]  # fmt: skip  (the app's messages go out unchanged)
    assert [w[1] for w in record["wire"]["writes"]] == ["one", "two"]  # only the stream's
    assert record["wire"]["status"] == 200 and record["wire"]["ended_at"] > 0
    assert again["wire"] is None and not streams.wires


def test_a_real_sse_stream_records_the_framing_of_each_token_as_its_own_write() -> None:
    async def main() -> tuple[bytes, list[float], Wire | None]:
        async with ServerProcess(["builtin"], TOKENS) as server:
            life = await server.running()
            life.expect("w1")
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{server.origin}/v/sse?stream=w1") as response,
            ):
                life.release("w1", len(TOKENS) + 1)
                body = await asyncio.wait_for(response.read(), 10)
            record = await life.take("w1")
            return body, list(record.emitted_at), record.wire

    body, emitted_at, wire = asyncio.run(main())
    assert wire is not None and not wire.truncated
    assert [w.data for w in wire.writes] == [sse(t).encode() for t in TOKENS] + [SSE_END.encode()]
    assert b"".join(w.data for w in wire.writes) == body  # what the client received
    assert dict(wire.headers)["content-type"].startswith("text/event-stream")
    assert wire.sent_writes == len(TOKENS) + 1 and wire.sent_bytes == len(body)
    # Each token went out after the chain emitted it, in order, and the end after all.
    times = [w.at for w in wire.writes]
    assert times == sorted(times) and wire.ended_at >= times[-1]
    assert all(sent >= made for sent, made in zip(times, emitted_at, strict=False))
