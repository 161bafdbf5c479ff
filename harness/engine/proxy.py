"""Loopback TCP proxy that reshapes server->client bytes like real networks do.

Usage::

    async with Proxy("split", "127.0.0.1", server_port) as proxy:
        ...  # point the client at 127.0.0.1:proxy.port

Client->server bytes are always forwarded unchanged; only the server->client
direction is shaped, by the network's shaper (``SHAPERS``; what each does:
``kernel.networks``).  Half-closes are propagated both ways.  Waits on peers
(reads, drains) last until the peer acts or the proxy exits; everything the
proxy itself waits for has a bound.

``split`` cuts each server write where stream parsers break, as computed by the
pure function ``split_cuts``: inside every multi-byte UTF-8 sequence, between CR
and LF, inside SSE field names and right after their colon, after every line end
(so also between the two line ends of a blank line, where an event ends), and
after a write's first byte.  The rule covers a write's first 512 bytes; the rest
goes in 509-byte pieces, which still cut a long token's sequences at many offsets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from streamcompat.harness.hosts.processes import run_child_loop

__all__ = ["SHAPERS", "Proxy", "split_cuts"]

log = logging.getLogger(__name__)
Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter

LOOPBACK = "127.0.0.1"
READ_SIZE = 65536
CONNECT_TIMEOUT = 2.0  # s; upstream is local, so a slow connect is a failure
CLOSE_TIMEOUT = 1.0  # s; grace for a transport to flush before it is aborted
SPLIT_RULE_BYTES = 512  # split: the cut rule covers a server write's first 512 bytes ...
SPLIT_PIECE = 509  # ... and the rest goes in pieces of an odd (prime) size
# split: yields after each write.  One loop pass lets the selector notice the
# client socket, the next runs its read callback, so even a client on this
# event loop receives a piece before the next one is sent.  A client in another
# process cannot be waited for (loopback acks bytes before they are read), so it
# just gets those two passes between pieces; the cost saved is in fewer pieces.
SPLIT_YIELDS = 2
COALESCE_READS = 3  # flush after this many upstream reads ...
COALESCE_QUIET = 0.05  # s; ... or when upstream sends nothing for this long
BUFFER_SIZE = 16 * 1024  # hold threshold: a simplified model of nginx proxy_buffers


# Where split cuts.  A line start is the start of a write or follows CR or LF.
_LINE_END = re.compile(rb"[\r\n]")
_FIELD = re.compile(rb"(?:^|(?<=[\r\n]))([A-Za-z][A-Za-z0-9_-]*)?:")  # "data:", ":" (comment)
_MULTIBYTE = re.compile(  # a lead byte and its continuation bytes
    rb"[\xc0-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf7][\x80-\xbf]{3}"
)


def split_cuts(data: bytes) -> list[int]:
    """Offsets, ascending and strictly inside ``data``, where ``split`` cuts one server write.

    ``data`` is one upstream read: a server write as the proxy receives it.  Each cut
    is a place where a parser that assumes whole units per read goes wrong; the same
    bytes are always cut the same way.
    """
    head = data[:SPLIT_RULE_BYTES]  # bounds the pieces of a long write (a 64 KiB token)
    cuts = {1}  # a write's first byte alone: a read need not start a unit
    cuts.update(m.end() for m in _LINE_END.finditer(head))  # CR|LF, and line|line
    for m in _FIELD.finditer(head):
        if m.group(1):
            cuts.add(m.start() + 1)  # d|ata: a field name in two reads
        cuts.add(m.end())  # data:| the value in another read
    for m in _MULTIBYTE.finditer(head):
        cuts.update(range(m.start() + 1, m.end()))  # every byte of a sequence on its own
    cuts.update(range(SPLIT_RULE_BYTES, len(data), SPLIT_PIECE))
    return sorted(cut for cut in cuts if 0 < cut < len(data))


def _accel_buffering_off(head: bytes) -> bool:
    """True if an HTTP response head carries ``X-Accel-Buffering: no``."""
    for line in head.split(b"\r\n")[1:]:  # skip the status line
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-accel-buffering":
            return value.strip().lower() == b"no"
    return False


class Proxy:
    """Async context manager: a listener on ``127.0.0.1:port`` forwarding to upstream."""

    def __init__(
        self,
        network: str,
        upstream_host: str,
        upstream_port: int,
        sock: socket.socket | None = None,
    ) -> None:
        if network not in SHAPERS:
            raise ValueError(f"unknown shaper {network!r}; choose from {tuple(SHAPERS)}")
        if upstream_host != LOOPBACK:
            raise ValueError(f"upstream must be {LOOPBACK}, not {upstream_host!r}")
        self.network = network
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0  # set once listening
        self.downstream_writes = 0  # writes to clients
        self.upstream_reads = 0  # non-empty reads from the upstream
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._sock = sock  # an already-bound loopback listener (from the harness), if any

    async def __aenter__(self) -> Proxy:
        if self._sock is not None:
            self._server = await asyncio.start_server(self._accept, sock=self._sock)
        else:
            self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Each task only does bounded cleanup once cancelled.
            await asyncio.wait(self._tasks, timeout=2 * CLOSE_TIMEOUT)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), CLOSE_TIMEOUT)

    def _accept(self, reader: Reader, writer: Writer) -> None:
        # A plain callback that spawns our own task: asyncio's wrapper around a
        # coroutine callback would log noise when the task is cancelled.
        if self._closing:
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, c_reader: Reader, c_writer: Writer) -> None:
        _set_nodelay(c_writer)
        u_writer: Writer | None = None
        failed = False
        try:
            connect = asyncio.open_connection(self.upstream_host, self.upstream_port)
            u_reader, connected = await asyncio.wait_for(connect, CONNECT_TIMEOUT)
            u_writer = connected  # a plain assignment narrows the Optional for mypy
            _set_nodelay(u_writer)
            await _run_both(
                self._forward_up(c_reader, u_writer), self._forward_down(u_reader, c_writer)
            )
        except Exception:
            # One broken connection (refused, reset, ...) must not affect others.
            log.debug("connection failed", exc_info=True)
            failed = True
        finally:
            # Reset the other side if one side broke, so the failure propagates.
            abort = failed and u_writer is not None
            for writer in (c_writer, u_writer):
                if writer is not None:
                    await _close(writer, abort or self._closing)

    async def _forward_up(self, reader: Reader, writer: Writer) -> None:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def _forward_down(self, reader: Reader, writer: Writer) -> None:
        await SHAPERS[self.network](self, reader, writer)
        if writer.can_write_eof():
            writer.write_eof()

    async def _read(self, reader: Reader) -> bytes:
        data = await reader.read(READ_SIZE)
        if data:
            self.upstream_reads += 1
        return data

    async def _write(self, writer: Writer, data: bytes) -> None:
        writer.write(data)
        self.downstream_writes += 1
        await writer.drain()

    async def _down_direct(self, reader: Reader, writer: Writer) -> None:
        while data := await self._read(reader):
            await self._write(writer, data)

    async def _down_split(self, reader: Reader, writer: Writer) -> None:
        while data := await self._read(reader):
            bounds = [0, *split_cuts(data), len(data)]
            for start, end in itertools.pairwise(bounds):
                await self._write(writer, data[start:end])
                for _ in range(SPLIT_YIELDS):
                    await asyncio.sleep(0)

    async def _down_coalesce(self, reader: Reader, writer: Writer) -> None:
        parts: list[bytes] = []
        while True:
            try:
                # Only time out while holding data: an idle stream is not "quiet".
                # Cancelling a StreamReader.read loses no bytes.
                data = await asyncio.wait_for(self._read(reader), COALESCE_QUIET if parts else None)
            except asyncio.TimeoutError:
                data = None  # upstream went quiet
            if data:
                parts.append(data)
            if parts and (not data or len(parts) >= COALESCE_READS):
                await self._write(writer, b"".join(parts))
                parts.clear()
            if data == b"":  # EOF
                return

    async def _down_buffered(self, reader: Reader, writer: Writer) -> None:
        held = bytearray()
        responses = ResponseScanner()
        while data := await self._read(reader):
            for piece, ends, unbuffered in responses.feed(data):
                held += piece
                # nginx sends what it holds when its buffer fills or the upstream's
                # response is complete, and streams responses that opt out.
                if unbuffered or ends or len(held) >= BUFFER_SIZE:
                    await self._write(writer, bytes(held))
                    held.clear()
        if held:
            await self._write(writer, bytes(held))


#: The shapers of the server->client direction, by network name: a network whose origin
#: is a shaper (``kernel.networks``) has its entry here.
SHAPERS: dict[str, Callable[[Proxy, Reader, Writer], Awaitable[None]]] = {
    "direct": Proxy._down_direct,
    "split": Proxy._down_split,
    "coalesce": Proxy._down_coalesce,
    "buffer-16k": Proxy._down_buffered,
}


class ResponseScanner:
    """Finds where each HTTP/1.1 response ends in a server's byte stream.

    Knows heads, ``Content-Length`` bodies and chunked bodies (trailers included),
    which is all a keep-alive connection from uvicorn carries; so a complete response
    is never held waiting for bytes that only the next request would bring.
    """

    def __init__(self) -> None:
        self.mode = "head"  # head | length | size | data | trailer | close
        self.line = bytearray()  # the line being read (head, chunk size or trailer)
        self.head = b""  # the head's lines so far
        self.left = 0  # bytes left of a Content-Length body or of a chunk (+ its CRLF)
        self.unbuffered = False  # the current response said X-Accel-Buffering: no

    def feed(self, data: bytes) -> list[tuple[bytes, bool, bool]]:
        """``data`` cut where responses end: (piece, ends a response, unbuffered)."""
        pieces: list[tuple[bytes, bool, bool]] = []
        start = i = 0
        while i < len(data):
            i, ended = self._step(data, i)
            if ended:
                pieces.append((data[start:i], True, self.unbuffered))
                start = i
                self.mode, self.unbuffered = "head", False
        if start < len(data):
            pieces.append((data[start:], False, self.unbuffered))
        return pieces

    def _step(self, data: bytes, i: int) -> tuple[int, bool]:
        """Consume from ``data[i:]``; return the new position and whether a response ended."""
        if self.mode == "close":  # no length given: the body runs to the end of the stream
            return len(data), False
        if self.mode in ("length", "data"):
            take = min(self.left, len(data) - i)
            self.left -= take
            if self.left:
                return i + take, False
            if self.mode == "length":
                return i + take, True
            self.mode = "size"
            return i + take, False
        end = data.find(b"\n", i)
        if end < 0:
            self.line += data[i:]
            return len(data), False
        self.line += data[i : end + 1]
        line, self.line = bytes(self.line), bytearray()
        return end + 1, self._on_line(line)

    def _on_line(self, line: bytes) -> bool:
        if self.mode == "head":
            if line in (b"\r\n", b"\n") and not self.head:
                return False  # stray blank lines between responses
            self.head += line
            if line not in (b"\r\n", b"\n"):
                return False
            head, self.head = self.head, b""
            return self._start_body(head)
        if self.mode == "size":
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.mode = "trailer"
            else:
                self.mode, self.left = "data", size + 2  # the chunk and its CRLF
            return False
        return line in (b"\r\n", b"\n")  # trailer: a blank line ends the response

    def _start_body(self, head: bytes) -> bool:
        self.unbuffered = _accel_buffering_off(head)
        fields: dict[bytes, bytes] = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        status = head[9:12]
        if status.startswith(b"1") or status in (b"204", b"304"):
            return True  # no body
        if b"chunked" in fields.get(b"transfer-encoding", b""):
            self.mode = "size"
            return False
        if b"content-length" not in fields:
            self.mode = "close"
            return False
        length = int(fields[b"content-length"] or b"0")
        if length == 0:
            return True
        self.mode, self.left = "length", length
        return False


def _set_nodelay(writer: Writer) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _run_both(first: Coroutine[Any, Any, None], second: Coroutine[Any, Any, None]) -> None:
    """Run both to completion; if one fails, cancel the other and raise."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _close(writer: Writer, abort: bool) -> None:
    if abort:
        writer.transport.abort()
    else:
        writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        writer.transport.abort()  # peer not reading or gone: drop what is left


async def _serve_until_signalled(network: str, upstream_port: int, fd: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listener = socket.socket(fileno=fd)
    async with Proxy(network, LOOPBACK, upstream_port, sock=listener):
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m streamcompat.harness.engine.proxy --network split --upstream-port P --fd N``.

    The harness runs each network as its own process, so that shaping bytes never
    competes with the harness's own event loop (which paces cells and drives clients).
    """
    parser = argparse.ArgumentParser(prog="python -m streamcompat.harness.engine.proxy")
    parser.add_argument("--network", choices=tuple(SHAPERS), required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--fd", type=int, required=True, help="a listening loopback socket")
    args = parser.parse_args(argv)
    run_child_loop(_serve_until_signalled(args.network, args.upstream_port, args.fd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
