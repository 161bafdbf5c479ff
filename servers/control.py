"""The variant server's side of the control channel: the streams' gates, driven by the harness.

The harness talks to the server over one end of a socket pair it made (``--control-fd``):
nobody else holds it, and the first line must carry the run's secret. Messages are JSON
lines. The harness sends ``release`` (let a stream emit up to token k, or k = n + 1:
its end) and ``take`` (the stream's record, which is then forgotten); the server pushes
``started`` when a stream's request arrives and ``head`` when its response head has gone
out (so that the harness can tell a server that never answers from a client that does
not say it was answered). A release costs a write on a socket, not an HTTP request
through the app.

The same wrapper keeps, per stream, what its response put on the wire (``WireCapture``): the
head the app sent, and each body write with the moment it went to the socket, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamcompat.servers.chain import Gate

MAX_STREAMS = 1000  # streams nobody took are dropped oldest first, so memory stays bounded
LINE_LIMIT = 1 << 20
#: Body bytes kept per stream; past them writes are counted, not kept. Sent as \u00XX
#: escapes at worst (6 bytes each), a record stays well inside the harness's LINE_LIMIT.
WIRE_KEEP_BYTES = 64 * 1024
#: Body writes kept per stream (a stream of one-byte writes must not make 64 Ki entries).
WIRE_KEEP_WRITES = 1000
#: A longer write keeps this many bytes at each end: the framing around a long token sits
#: at its edges, and the middle is the token's text, which the verdict already judged.
WRITE_EDGE = 256

#: The streams the request being served has started (``Streams.observe`` sets it).
_REQUEST_STREAMS: ContextVar[list[str] | None] = ContextVar("request_streams", default=None)


class WireCapture:
    """What one stream's responses put on the wire, bounded (see WIRE_KEEP_BYTES).

    Each kept write is ``[at, bytes]``, or ``[at, first bytes, bytes left out, last
    bytes]`` when it was longer than two WRITE_EDGEs (its edges are kept) or the
    stream's budget ran out in it (its first bytes are kept, the last part is empty).
    ``at`` is CLOCK_MONOTONIC, which the harness shares. Bytes travel as latin-1 text:
    one character per byte, so any byte survives JSON.
    """

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[list[str]] = []
        self.writes: list[list[Any]] = []
        self.sent_bytes = 0  # every body byte, kept or not
        self.sent_writes = 0  # every body write that carried bytes, kept or not
        self.ended_at = 0.0  # when the body's last message went out (0: it has not)
        self._budget = WIRE_KEEP_BYTES

    def head(self, message: Message) -> None:
        if not self.status:  # a reconnect's head is not the one the cell judged
            self.status = int(message.get("status", 0))
            self.headers = [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in message.get("headers", ())
            ]

    def wrote(self, body: bytes, at: float, more: bool) -> None:
        if not more and not self.ended_at:
            self.ended_at = at
        if not body:
            return  # ASGI ends a body with an empty message: it ends, it writes nothing
        self.sent_bytes += len(body)
        self.sent_writes += 1
        if len(self.writes) >= WIRE_KEEP_WRITES or self._budget <= 0:
            return
        if len(body) <= min(2 * WRITE_EDGE, self._budget):
            self.writes.append([at, body.decode("latin-1")])
            self._budget -= len(body)
            return
        if self._budget >= 2 * WRITE_EDGE:  # a long write: its edges
            first, last = body[:WRITE_EDGE], body[-WRITE_EDGE:]
        else:  # the budget's last bytes go to this write's start; later writes are counted
            first, last = body[: self._budget], b""
        left_out = len(body) - len(first) - len(last)
        self.writes.append([at, first.decode("latin-1"), left_out, last.decode("latin-1")])
        self._budget -= len(first) + len(last)

    def record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers,
            "writes": self.writes,
            "sent_bytes": self.sent_bytes,
            "sent_writes": self.sent_writes,
            "ended_at": self.ended_at,
        }


T = TypeVar("T")


def _bounded(table: OrderedDict[str, T], stream: str, new: Callable[[], T]) -> T:
    """``table[stream]``, made if missing; streams nobody took go oldest first."""
    if stream not in table:
        table[stream] = new()
        while len(table) > MAX_STREAMS:
            table.popitem(last=False)
    return table[stream]


class Streams:
    """The gates of a server's streams, by stream id; tells the harness when one starts."""

    def __init__(self) -> None:
        self.gates: OrderedDict[str, Gate] = OrderedDict()
        self.wires: OrderedDict[str, WireCapture] = OrderedDict()
        self.push: Callable[[dict[str, Any]], None] = lambda message: None

    def gate(self, stream: str) -> Gate:
        return _bounded(self.gates, stream, Gate)

    def start(self, stream: str) -> Gate:
        """A request for ``stream`` arrived: its gate, with the harness told."""
        gate = self.gate(stream)
        gate.started.set()
        gate.requests += 1
        if (of_request := _REQUEST_STREAMS.get()) is not None:
            of_request.append(stream)
        self.push({"ev": "started", "stream": stream})
        return gate

    def wire(self, stream: str) -> WireCapture:
        return _bounded(self.wires, stream, WireCapture)

    def observe(self, app: ASGIApp) -> ASGIApp:
        """``app``, telling the harness when a stream's response head has gone out, and
        keeping what each stream's response sent (``WireCapture``)."""

        async def observed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started: list[str] = []  # filled by ``start`` while the endpoint runs
            token = _REQUEST_STREAMS.set(started)
            wire: WireCapture | None = (
                None  # held, not looked up: a write after ``take`` goes nowhere
            )

            async def sending(message: Message) -> None:
                nonlocal wire
                await send(message)
                if not started:
                    return  # not a stream's request (health, the blank page)
                if message["type"] == "http.response.body" and wire is not None:
                    more = bool(message.get("more_body", False))
                    wire.wrote(message.get("body", b""), time.monotonic(), more)
                elif message["type"] == "http.response.start":
                    if (gate := self.gates.get(started[-1])) is not None:
                        gate.head_at = time.monotonic()
                    wire = self.wire(started[-1])
                    wire.head(message)
                    self.push({"ev": "head", "stream": started[-1]})

            try:
                await app(scope, receive, sending)
            except Exception as exc:
                if not (started and wire is not None and wire.ended_at):
                    raise
                # The response had ended whole (FastAPI's EventSourceResponse ends the
                # body, then re-raises): uvicorn would close the connection, and a client
                # that pooled it would fail its next request, in another cell. Said, not
                # done, so that cells stay independent.
                if (gate := self.gates.get(started[-1])) is not None:
                    gate.error = (
                        f"the app raised {exc!r} after its response had ended; uvicorn "
                        "would close the connection, failing a keep-alive client's next "
                        "request on it"
                    )
            finally:
                _REQUEST_STREAMS.reset(token)

        return observed

    async def settled(self, stream: str, bound: float) -> None:
        """The abort scenario, once the client has left: wait, at most ``bound`` seconds,
        for the stream's model run to be over (a server that notices a disconnect while
        its response waits cancels it then). If it is not, let the model run as the
        response asks (``Gate.leave``: a server that notices only when it writes stops
        after a token more; one that never does runs to the end), and wait as long again.

        The first wait is what makes the verdict causal: the client left while the
        response was waiting for a token, and nothing was released before the server
        had its chance to notice.
        """
        gate = self.gates.get(stream)
        if gate is None or not gate.started.is_set():
            return
        for step in ("idle", "running"):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(gate.finished.wait(), bound)
            if gate.finished.is_set() or step == "running":
                return
            gate.leave()

    def take(self, stream: str) -> dict[str, Any]:
        gate = self.gates.pop(stream, None) or Gate()
        wire = self.wires.pop(stream, None)
        return {
            "emitted_at": gate.emitted_at,
            "ended_at": gate.ended_at,
            "done": gate.done,
            "released": gate.released,
            "started": gate.started.is_set(),
            "head_at": gate.head_at,
            "requests": gate.requests,
            "consumed": gate.consumed,
            "error": gate.error,
            "generated": gate.generated,
            "left": gate.left,
            "cancelled_at": gate.cancelled_at,
            "finished": gate.finished.is_set(),
            "connections": gate.connections,
            "wire": wire.record() if wire is not None else None,
        }


async def serve_control(
    fd: int, secret: str, streams: Streams, on_close: Callable[[], None]
) -> None:
    """Answer the harness on ``fd`` until it closes its end (then ``on_close``)."""
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd), limit=LINE_LIMIT)

    def send(message: dict[str, Any]) -> None:
        if not writer.is_closing():
            writer.write(json.dumps(message).encode() + b"\n")

    pending: set[asyncio.Task[None]] = set()

    async def take_settled(message: dict[str, Any], stream: str) -> None:
        await streams.settled(stream, float(message["settle"]))
        send({"id": message["id"], **streams.take(stream)})

    try:
        hello = json.loads(await reader.readline() or b"{}")
        if not hmac.compare_digest(str(hello.get("secret", "")).encode(), secret.encode()):
            send({"ev": "refused", "why": "wrong or missing run secret"})
            return
        streams.push = send
        send({"ev": "ready"})
        while line := await reader.readline():
            message = json.loads(line)
            stream = str(message.get("stream", ""))
            op = message.get("op")
            if op == "release":
                gate = streams.gate(stream)
                gate.fail_at = int(message.get("fail_at") or gate.fail_at)
                gate.release(int(message["upto"]))
            elif op == "take" and message.get("settle"):
                # Waited for apart from this loop: other streams' releases go on meanwhile.
                task = asyncio.ensure_future(take_settled(message, stream))
                pending.add(task)
                task.add_done_callback(pending.discard)
            elif op == "take":
                send({"id": message["id"], **streams.take(stream)})
            await writer.drain()
    finally:
        for task in pending:
            task.cancel()
        streams.push = lambda message: None
        writer.close()
        on_close()
