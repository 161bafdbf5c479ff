"""The variant server's side of the control channel: the streams' gates, driven by the harness.

The harness talks to the server over one end of a socket pair it made (``--control-fd``):
nobody else holds it, and the first line must carry the run's secret. Messages are JSON
lines. The harness sends ``release`` (let a stream emit up to token k, or k = n + 1:
its end) and ``take`` (the stream's record, which is then forgotten); the server pushes
``started`` when a stream's request arrives and ``head`` when its response head has gone
out (so that the harness can tell a server that never answers from a client that does
not say it was answered). A release costs a write on a socket, not an HTTP request
through the app.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamcompat.servers.chain import Gate

MAX_STREAMS = 1000  # streams nobody took are dropped oldest first, so memory stays bounded
LINE_LIMIT = 1 << 20

#: The streams the request being served has started (``Streams.observe_heads`` sets it).
_REQUEST_STREAMS: ContextVar[list[str] | None] = ContextVar("request_streams", default=None)


class Streams:
    """The gates of a server's streams, by stream id; tells the harness when one starts."""

    def __init__(self) -> None:
        self.gates: OrderedDict[str, Gate] = OrderedDict()
        self.push: Callable[[dict[str, Any]], None] = lambda message: None

    def gate(self, stream: str) -> Gate:
        if stream not in self.gates:
            self.gates[stream] = Gate()
            while len(self.gates) > MAX_STREAMS:
                self.gates.popitem(last=False)
        return self.gates[stream]

    def start(self, stream: str) -> Gate:
        """A request for ``stream`` arrived: its gate, with the harness told."""
        gate = self.gate(stream)
        gate.started.set()
        gate.requests += 1
        if (of_request := _REQUEST_STREAMS.get()) is not None:
            of_request.append(stream)
        self.push({"ev": "started", "stream": stream})
        return gate

    def observe_heads(self, app: ASGIApp) -> ASGIApp:
        """``app``, telling the harness when a stream's response head has gone out."""

        async def observed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started: list[str] = []  # filled by ``start`` while the endpoint runs
            token = _REQUEST_STREAMS.set(started)

            async def sending(message: Message) -> None:
                await send(message)
                if message["type"] == "http.response.start" and started:
                    if (gate := self.gates.get(started[-1])) is not None:
                        gate.head_at = time.monotonic()
                    self.push({"ev": "head", "stream": started[-1]})

            try:
                await app(scope, receive, sending)
            finally:
                _REQUEST_STREAMS.reset(token)

        return observed

    def take(self, stream: str) -> dict[str, Any]:
        gate = self.gates.pop(stream, None) or Gate()
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
        }


async def serve_control(
    fd: int, secret: str, streams: Streams, on_close: Callable[[], None]
) -> None:
    """Answer the harness on ``fd`` until it closes its end (then ``on_close``)."""
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd), limit=LINE_LIMIT)

    def send(message: dict[str, Any]) -> None:
        if not writer.is_closing():
            writer.write(json.dumps(message).encode() + b"\n")

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
                streams.gate(stream).release(int(message["upto"]))
            elif op == "take":
                send({"id": message["id"], **streams.take(stream)})
            await writer.drain()
    finally:
        streams.push = lambda message: None
        writer.close()
        on_close()
