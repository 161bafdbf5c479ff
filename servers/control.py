"""The variant server's side of the control channel: the streams' gates, driven by the harness.

The harness talks to the server over one end of a socket pair it made (``--control-fd``):
nobody else holds it, and the first line must carry the run's secret. Messages are JSON
lines. The harness sends ``release`` (let a stream emit up to token k, or k = n + 1:
its end) and ``take`` (the stream's record, which is then forgotten); the server pushes
``started`` when a stream's request arrives. A release costs a write on a socket, not
an HTTP request through the app.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from servers.chain import Gate

MAX_STREAMS = 1000  # streams nobody took are dropped oldest first, so memory stays bounded
LINE_LIMIT = 1 << 20


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
        self.push({"ev": "started", "stream": stream})
        return gate

    def take(self, stream: str) -> dict[str, Any]:
        gate = self.gates.pop(stream, None) or Gate()
        return {
            "emitted_at": gate.emitted_at,
            "ended_at": gate.ended_at,
            "done": gate.done,
            "released": gate.released,
            "started": gate.started.is_set(),
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
