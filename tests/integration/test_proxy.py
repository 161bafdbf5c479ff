"""Tests for the shaping proxy, against small real upstream servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from streamcompat.harness.engine.proxy import SHAPERS, Proxy, split_cuts
from streamcompat.harness.kernel.networks import NETWORKS
from tests.support.fake_clock import FakeClockLoop, run_on_fake_clock

LOOPBACK = "127.0.0.1"
TEST_BOUND = 1.5  # s; every test body must finish within this
ARRIVES_BOUND = 1.0  # s; something that should arrive must arrive within this
HELD_WAIT = 0.2  # s; how long to watch for bytes that must NOT arrive

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[[Reader, Writer], Awaitable[None]]

PIECES = [
    b"data: hello\n\n",
    "data: héllo wörld\n\n".encode(),
    "data: 🌍 漢字\n\n".encode(),
    b"data: [DONE]\n\n",
]
PAYLOAD = b"".join(PIECES)


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main`` on a fresh loop, bounded; fail on any asyncio error report or leaked task."""
    reports: list[dict[str, Any]] = []

    async def bounded() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reports.append(ctx))
        await asyncio.wait_for(main(), TEST_BOUND)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(bounded())
    assert not reports


@contextlib.asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[int]:
    """A raw TCP server on loopback running ``handler`` per connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: Reader, writer: Writer) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    def accept(reader: Reader, writer: Writer) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accept, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def client(proxy: Proxy) -> AsyncIterator[tuple[Reader, Writer]]:
    reader, writer = await asyncio.open_connection(LOOPBACK, proxy.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_all(reader: Reader) -> list[bytes]:
    """Every read until EOF, as the client saw them."""
    reads = []
    while data := await reader.read(65536):
        reads.append(data)
    return reads


async def reads_reach(proxy: Proxy, count: int) -> None:
    """Yield to the loop until the proxy has done ``count`` upstream reads."""
    while proxy.upstream_reads < count:
        await asyncio.sleep(0)


async def write_pieces(writer: Writer, pieces: list[bytes]) -> None:
    for piece in pieces:
        writer.write(piece)
        await writer.drain()


def reads_through(network: str, writes: list[bytes]) -> list[bytes]:
    """The client's reads of ``writes`` sent through ``network``.

    The upstream sends each write once the proxy has read the one before, so writes
    up to 64 KiB are one upstream read each.  The client shares the proxy's event
    loop, so it reads every proxy write on its own unless the proxy joins them.
    """
    reads: list[bytes] = []

    async def main() -> None:
        async def handler(reader: Reader, writer: Writer) -> None:
            for count, data in enumerate(writes, 1):
                await write_pieces(writer, [data])
                await reads_reach(proxy, count)

        async with (
            upstream(handler) as port,
            Proxy(network, LOOPBACK, port) as proxy,
            client(proxy) as (reader, _),
        ):
            reads.extend(await read_all(reader))

    run(main)
    return reads


def cut_pieces(data: bytes) -> list[bytes]:
    """``data`` in the pieces ``split`` sends it in."""
    bounds = [0, *split_cuts(data), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def test_every_network_is_described() -> None:
    assert set(SHAPERS) >= {n for n, net in NETWORKS.items() if net.origin == "shaper"}
    assert all(net.description for net in NETWORKS.values())


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "localhost", "::1", "example.com"])
def test_refuses_non_loopback_upstream(host: str) -> None:
    with pytest.raises(ValueError):
        Proxy("direct", host, 80)


def test_refuses_unknown_network() -> None:
    with pytest.raises(ValueError):
        Proxy("dial-up", LOOPBACK, 80)


def test_direct_forwards_both_ways_exactly() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        request = await reader.read()  # until the client's half-close
        await write_pieces(writer, [b"got:" + request, *PIECES])

    async def main() -> None:
        async with upstream(handler) as port, Proxy("direct", LOOPBACK, port) as proxy:
            async with client(proxy) as (reader, writer):
                writer.write(b"hello upstream")
                writer.write_eof()
                reads = await read_all(reader)
            assert b"".join(reads) == b"got:hello upstream" + PAYLOAD
            assert proxy.downstream_writes == proxy.upstream_reads

    run(main)


def test_split_delivers_each_cut_piece_in_its_own_read() -> None:
    reads = reads_through("split", PIECES)
    assert reads == [piece for data in PIECES for piece in cut_pieces(data)]
    assert reads[:4] == [b"d", b"ata:", b" hello\n", b"\n"]


def test_split_sends_a_long_write_past_512_bytes_in_509_byte_pieces() -> None:
    # No line ends or UTF-8 here: only the first byte's cut and the long-write rule.
    reads = reads_through("split", [b"x" * 2000])
    assert [len(data) for data in reads] == [1, 511, 509, 509, 470]


def test_coalesce_joins_up_to_three_upstream_reads() -> None:
    pieces = [f"data: {i}\n\n".encode() for i in range(9)]
    reads = reads_through("coalesce", pieces)
    # An upstream read 50 ms late flushes early (a busy machine), so the exact grouping
    # is pinned on a fake clock (test_coalesce_writes_every_third_read); over real
    # sockets: whole, in order, never more than three reads in one write, and joined.
    assert b"".join(reads) == b"".join(pieces)
    sizes = [len(p) for p in pieces]
    assert all(len(r) <= 3 * max(sizes) for r in reads) and len(reads) < len(pieces)


def test_coalesce_flushes_when_upstream_goes_quiet() -> None:
    done = asyncio.Event()

    async def handler(reader: Reader, writer: Writer) -> None:
        await write_pieces(writer, PIECES[:1])
        await done.wait()  # keep the connection open: only quiet can flush

    async def main() -> None:
        async with (
            upstream(handler) as port,
            Proxy("coalesce", LOOPBACK, port) as proxy,
            client(proxy) as (reader, _),
        ):
            data = await asyncio.wait_for(reader.readexactly(len(PIECES[0])), ARRIVES_BOUND)
            assert data == PIECES[0]
            done.set()
            assert await read_all(reader) == []

    run(main)


def test_buffer_holds_small_writes_until_eof() -> None:
    release = asyncio.Event()

    async def handler(reader: Reader, writer: Writer) -> None:
        await write_pieces(writer, PIECES[:1])
        await release.wait()
        await write_pieces(writer, PIECES[1:])

    async def main() -> None:
        async with upstream(handler) as port, Proxy("buffer-16k", LOOPBACK, port) as proxy:
            async with client(proxy) as (reader, _):
                await reads_reach(proxy, 1)  # the proxy has the first piece ...
                with pytest.raises(asyncio.TimeoutError):  # ... and holds it
                    await asyncio.wait_for(reader.read(65536), HELD_WAIT)
                release.set()
                reads = await read_all(reader)
            assert b"".join(reads) == PAYLOAD
            assert proxy.downstream_writes == 1

    run(main)


def test_buffer_flushes_at_exactly_16_kib() -> None:
    fill = asyncio.Event()
    release = asyncio.Event()
    block = bytes(range(256)) * 16  # 4 KiB
    short = [block, block, block, block[:-1]]  # one byte short of 16 KiB

    async def main() -> None:
        async def handler(reader: Reader, writer: Writer) -> None:
            for count, data in enumerate(short, 1):
                await write_pieces(writer, [data])
                await reads_reach(proxy, count)
            await fill.wait()
            await write_pieces(writer, [block[-1:]])
            await release.wait()
            await write_pieces(writer, [b"tail"])

        async with (
            upstream(handler) as port,
            Proxy("buffer-16k", LOOPBACK, port) as proxy,
            client(proxy) as (reader, _),
        ):
            await reads_reach(proxy, len(short))  # the proxy has 16 KiB - 1 ...
            with pytest.raises(asyncio.TimeoutError):  # ... and holds it
                await asyncio.wait_for(reader.read(65536), HELD_WAIT)
            fill.set()  # one more byte
            data = await asyncio.wait_for(reader.readexactly(16 * 1024), ARRIVES_BOUND)
            assert data == block * 4
            assert proxy.downstream_writes == 1  # in one write, before the upstream ends
            release.set()
            assert await read_all(reader) == [b"tail"]

    run(main)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n%s\r\n\r\n"


@pytest.mark.parametrize(
    ("header", "unbuffered"),
    [
        (b"X-Accel-Buffering: no", True),
        (b"x-accel-buffering:NO", True),
        (b"X-ACCEL-BUFFERING:  No ", True),
        (b"X-Accel-Buffering: yes", False),
        (b"X-Other: no", False),
    ],
)
def test_buffer_honours_x_accel_buffering(header: bytes, unbuffered: bool) -> None:
    release = asyncio.Event()
    head = HEAD % header

    async def handler(reader: Reader, writer: Writer) -> None:
        await write_pieces(writer, [head, *PIECES])
        await release.wait()

    async def main() -> None:
        async with upstream(handler) as port, Proxy("buffer-16k", LOOPBACK, port) as proxy:
            async with client(proxy) as (reader, _):
                if unbuffered:
                    data = await asyncio.wait_for(reader.readuntil(b"[DONE]\n\n"), ARRIVES_BOUND)
                    assert data == head + PAYLOAD
                else:
                    await reads_reach(proxy, 1)
                    with pytest.raises(asyncio.TimeoutError):
                        await asyncio.wait_for(reader.read(65536), HELD_WAIT)
                release.set()
                rest = await read_all(reader)
            assert b"".join(rest) == (b"" if unbuffered else head + PAYLOAD)

    run(main)


def test_buffer_flushes_a_finished_chunked_response_on_keep_alive() -> None:
    release = asyncio.Event()
    response = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n",
        b"0\r\n\r\n",
    ]

    async def handler(reader: Reader, writer: Writer) -> None:
        await write_pieces(writer, response)
        await release.wait()  # keep-alive: the upstream does not close

    async def main() -> None:
        async with (
            upstream(handler) as port,
            Proxy("buffer-16k", LOOPBACK, port) as proxy,
            client(proxy) as (reader, _),
        ):
            data = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), ARRIVES_BOUND)
            assert data == b"".join(response)
            release.set()

    run(main)


def test_refused_upstream_closes_client_connection() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind((LOOPBACK, 0))
        closed_port = sock.getsockname()[1]

    async def main() -> None:
        async with Proxy("direct", LOOPBACK, closed_port) as proxy:
            for _ in range(2):  # the proxy survives and serves the next one
                async with client(proxy) as (reader, _):
                    assert await asyncio.wait_for(reader.read(), ARRIVES_BOUND) == b""

    run(main)


def test_upstream_reset_does_not_break_proxy() -> None:
    connections = 0

    async def handler(reader: Reader, writer: Writer) -> None:
        nonlocal connections
        connections += 1
        await write_pieces(writer, PIECES)
        if connections == 1:
            writer.transport.abort()  # RST instead of FIN

    async def main() -> None:
        async with upstream(handler) as port, Proxy("direct", LOOPBACK, port) as proxy:
            async with client(proxy) as (reader, _):
                received = b""
                with contextlib.suppress(ConnectionResetError):
                    received = b"".join(await read_all(reader))
                assert PAYLOAD.startswith(received)
            async with client(proxy) as (reader, _):
                assert b"".join(await read_all(reader)) == PAYLOAD

    run(main)


CHUNKS = ["data: one\n\n", "data: twö 🌍\n\n", "data: three\n\n", "data: [DONE]\n\n"]


@pytest.mark.parametrize("network", SHAPERS)
def test_aiohttp_chunked_response_through_network(network: str) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        question = await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"echo: " + question + b"\n\n")
        for chunk in CHUNKS:
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/stream", stream)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, LOOPBACK, 0)
            await site.start()
            port = runner.addresses[0][1]
            async with Proxy(network, LOOPBACK, port) as proxy, aiohttp.ClientSession() as session:
                url = f"http://{LOOPBACK}:{proxy.port}/stream"
                async with session.post(url, data=b"why?") as response:
                    assert response.status == 200
                    body = await response.read()
            assert body == b"echo: why?\n\n" + "".join(CHUNKS).encode()
        finally:
            await runner.cleanup()

    run(main)


# ResponseScanner: where buffer-16k may flush without waiting for bytes that never come.


def _ends(chunks: list[bytes]) -> list[tuple[bytes, bool, bool]]:
    from streamcompat.harness.engine.proxy import ResponseScanner

    scanner = ResponseScanner()
    return [piece for chunk in chunks for piece in scanner.feed(chunk)]


def test_scanner_ends_a_content_length_response_then_the_next() -> None:
    page = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    stream = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    pieces = _ends([page + stream[:20], stream[20:]])
    assert pieces[0] == (page, True, False)
    assert b"".join(p for p, _, _ in pieces) == page + stream
    assert sum(end for _, end, _ in pieces) == 2


def test_scanner_reads_chunked_bodies_byte_by_byte() -> None:
    body = b"5\r\n0\r\n\r\n\r\n0\r\n\r\n"  # a chunk whose data looks like the last chunk
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    wire = head + body
    pieces = _ends([wire[i : i + 1] for i in range(len(wire))])
    assert [end for _, end, _ in pieces].count(True) == 1
    assert pieces[-1][1] is True  # the end is the very last byte, not the fake one


def test_scanner_marks_unbuffered_responses_and_bodiless_ones() -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Accel-Buffering: no\r\ntransfer-encoding: chunked\r\n\r\n"
    pieces = _ends([head + b"1\r\na\r\n"])
    assert pieces == [(head + b"1\r\na\r\n", False, True)]
    assert _ends([b"HTTP/1.1 204 No Content\r\n\r\n"]) == [
        (b"HTTP/1.1 204 No Content\r\n\r\n", True, False)
    ]


# The shaping rules on a fake clock (tests/support/fake_clock.py): the proxy's forwarding loop
# is fed upstream reads directly and writes to a recorder, so neither a socket nor a
# busy machine can change what is written, or when.


class Recorded:
    """A downstream writer that keeps each write and the fake time it was made at."""

    def __init__(self, loop: FakeClockLoop) -> None:
        self.loop = loop
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.writes.append((self.loop.time(), bytes(data)))

    async def drain(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False


def shaped(network: str, script: list[bytes | float]) -> list[tuple[float, bytes]]:
    """What ``network`` writes downstream, and when, for an upstream that follows
    ``script``: bytes are one read each (the next once the proxy has read it), a number
    is that many seconds of quiet; then the upstream ends."""

    async def main(loop: FakeClockLoop) -> list[tuple[float, bytes]]:
        proxy = Proxy(network, LOOPBACK, 1)
        reader, writer = asyncio.StreamReader(), Recorded(loop)
        forwarding = asyncio.ensure_future(proxy._forward_down(reader, writer))  # type: ignore[arg-type]
        reads = 0
        for step in script:
            if isinstance(step, bytes):
                reader.feed_data(step)
                reads += 1
                await reads_reach(proxy, reads)  # no time passes: the loop is never idle
            else:
                await asyncio.sleep(step)
        reader.feed_eof()
        await forwarding
        return writer.writes

    return run_on_fake_clock(main)


def test_coalesce_writes_every_third_read() -> None:
    pieces = [f"data: {i}\n\n".encode() for i in range(7)]
    assert shaped("coalesce", list(pieces)) == [
        (0.0, b"".join(pieces[:3])),
        (0.0, b"".join(pieces[3:6])),
        (0.0, pieces[6]),  # the rest when the upstream ends
    ]


def test_coalesce_flushes_what_it_holds_after_50_ms_of_quiet() -> None:
    a, b, c = PIECES[:3]
    writes = shaped("coalesce", [1.0, a, 1.0, b, c, 1.0])
    # Idle before a: no timer runs while nothing is held. Then a alone, 50 ms after it;
    # b and c together, 50 ms after c (not at the upstream's end, a second later).
    assert [data for _, data in writes] == [a, b + c]
    assert [when for when, _ in writes] == pytest.approx([1.05, 2.05])


def test_buffer_16k_writes_once_16_kib_are_held_not_before() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n"  # a body to the end
    body = [b"x" * 4096] * 3 + [b"x" * (4096 - len(head) - 1)]  # 16 KiB - 1 with the head
    assert len(head + b"".join(body)) == 16 * 1024 - 1
    writes = shaped("buffer-16k", [head, *body, 5.0, b"y", 5.0, b"tail"])
    assert [(when, len(data)) for when, data in writes] == [(5.0, 16 * 1024), (10.0, 4)]
    assert writes[0][1] == head + b"".join(body) + b"y"
