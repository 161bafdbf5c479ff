"""The variant server over a real socket: control channel, gate, langchain token path,
response heads, and a server that dies: restarted on the same port, or the run broken."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streamcompat.harness.engine.server import (
    ServerError,
    ServerLife,
    ServerProcess,
)
from streamcompat.harness.hosts.processes import describe_exit, log_summary
from streamcompat.harness.kernel.server_record import ServerRecord
from streamcompat.servers.chain import Gate, token_stream
from tests.support import hostile_plugins
from tests.support.procs import alive

TOKENS = ["a", " b", "\nc"]


def with_server(
    test: Callable[[ServerProcess], Awaitable[Any]], specs: list[str] | None = None
) -> Any:
    async def main() -> Any:
        async with ServerProcess(specs or ["builtin"], TOKENS) as server:
            return await asyncio.wait_for(test(server), 20)

    return asyncio.run(main())


def test_the_control_routes_are_not_served_over_http() -> None:
    async def test(server: ServerProcess) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{server.origin}/_sc/streams/s1/release?upto=3") as response,
        ):
            return response.status

    assert with_server(test) in (404, 405)


def test_the_control_channel_refuses_a_wrong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = ServerLife.connect

    async def connect_with_a_wrong_secret(life: ServerLife, _: str) -> None:
        await real_connect(life, "not the secret the server was given")

    monkeypatch.setattr(ServerLife, "connect", connect_with_a_wrong_secret)

    async def main() -> str:
        server = ServerProcess(["builtin"], TOKENS)
        try:
            await server.start()
            life = server.life
            assert life is not None
            # The refusal is the server's first and last word on the channel.
            await asyncio.wait_for(life.closed.wait(), 10)
            with pytest.raises(ServerError, match="refused"):
                await life.take("s1")
            with pytest.raises(ServerError, match="refused"):
                life.release("s1", 1)
            return life.lost
        finally:
            await server.stop()

    assert "wrong or missing run secret" in asyncio.run(main())


def test_tokens_flow_only_as_released_and_the_end_last() -> None:
    async def test(server: ServerProcess) -> tuple[list[bytes], bool, bool, dict[str, Any]]:
        got: list[bytes] = []
        server.expect("g1")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.origin}/v/raw?stream=g1") as response,
        ):
            assert await server.started("g1", 5)
            server.release("g1", 1)
            got.append(await response.content.readany())
            try:  # nothing more may come before the next release
                await asyncio.wait_for(response.content.readany(), 0.3)
                held = False
            except asyncio.TimeoutError:
                held = True
            server.release("g1", 3)
            while len(b"".join(got)) < len("".join(TOKENS).encode()):
                got.append(await response.content.readany())
            try:  # all tokens are out, but the body ends only once the end is released
                await asyncio.wait_for(response.content.read(), 0.3)
                end_held = False
            except asyncio.TimeoutError:
                end_held = True
            server.release("g1", 4)
            got.append(await response.content.read())
        return got, held, end_held, await server.take("g1")

    got, held, end_held, record = with_server(test)
    assert got[0] == b"a" and held and end_held
    assert b"".join(got) == "".join(TOKENS).encode()
    assert len(record.emitted_at) == 3 and record.done and record.requests == 1
    assert record.ended_at >= record.emitted_at[-1]


def test_a_taken_stream_is_forgotten() -> None:
    async def test(server: ServerProcess) -> ServerRecord:
        server.release("t1", 2)
        first = await server.take("t1")
        assert first.released == 2
        return await server.take("t1")

    assert with_server(test).released == 0


def test_the_server_ends_when_the_harness_closes_its_channel() -> None:
    async def test(server: ServerProcess) -> int | None:
        life = await server.running()
        assert life.control is not None
        life.control.close()
        return await asyncio.to_thread(life.process.wait, 10)

    assert with_server(test) == 0


def test_started_is_false_for_a_stream_nobody_opened() -> None:
    async def test(server: ServerProcess) -> bool:
        return await server.started("never", 0.2)

    assert with_server(test) is False


def test_chain_tokens_come_through_the_callback_handler_in_order() -> None:
    async def main() -> list[str]:
        gate = Gate()
        gate.release(len(TOKENS) + 1)
        stream: AsyncIterator[str] = token_stream(gate, TOKENS, "hi")
        return [t async for t in stream]

    assert asyncio.run(main()) == TOKENS


def test_chain_waits_on_the_gate() -> None:
    async def main() -> tuple[str, bool]:
        gate = Gate()
        stream = token_stream(gate, TOKENS, "hi")
        gate.release(1)
        first = await anext(stream)
        try:
            await asyncio.wait_for(anext(stream), 0.2)
            waited = False
        except asyncio.TimeoutError:
            waited = True
        await stream.aclose()
        return first, waited

    assert asyncio.run(main()) == ("a", True)


def test_the_server_says_when_a_response_head_went_out() -> None:
    async def test(server: ServerProcess) -> tuple[bool, float, bool]:
        life = await server.running()
        life.expect("h1")
        life.expect("n1")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.origin}/v/raw?stream=h1") as response:
                await asyncio.wait_for(life.head("h1").wait(), 5)
                said = life.head("h1").is_set()
                life.release("h1", len(TOKENS) + 1)
                await response.read()
            record = await life.take("h1")
            # A plug-in that never answers: its request arrives, its head never goes out.
            request = asyncio.ensure_future(
                session.get(f"{server.origin}/v/never-answers?stream=n1")
            )
            try:
                assert await life.started("n1", 5)
                try:
                    await asyncio.wait_for(life.head("n1").wait(), 0.3)
                    silent = False
                except asyncio.TimeoutError:
                    silent = True
            finally:
                request.cancel()
                await asyncio.gather(request, return_exceptions=True)
        return said, record.head_at, silent

    said, head_at, silent = with_server(test, ["builtin", "tests.support.hostile_plugins:VARIANTS"])
    assert said and head_at > 0 and silent


def test_a_server_that_dies_is_restarted_on_the_same_port() -> None:
    async def test(server: ServerProcess) -> tuple[ServerLife, ServerLife, int, bytes]:
        first = await server.running()
        port = server.port
        os.kill(first.pid, signal.SIGKILL)
        await asyncio.wait_for(first.dead.wait(), 10)  # noticed without any request
        second = await server.running()
        second.expect("r1")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/v/raw?stream=r1") as response,
        ):
            assert await second.started("r1", 5)
            second.release("r1", len(TOKENS) + 1)
            body = await response.read()
        return first, second, server.lives, body

    first, second, lives, body = with_server(test)
    assert first.death == "killed by SIGKILL; its log is empty"
    assert second.pid != first.pid and second.number == 2 and lives == 2
    assert body == "".join(TOKENS).encode()  # the new server streams on the old port
    assert not alive(first.pid) and not alive(second.pid)  # and is ended with the run


def test_a_server_that_dies_again_at_start_breaks_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = tmp_path / "mark"
    monkeypatch.setenv(hostile_plugins.MARK_ENV, str(mark))

    async def test(server: ServerProcess) -> tuple[str, int]:
        first = await server.running()
        mark.touch()  # the plug-in now refuses to import: a new server dies at start
        os.kill(first.pid, signal.SIGKILL)
        await asyncio.wait_for(server.broken.wait(), 15)
        with pytest.raises(ServerError, match="could not be restarted"):
            await server.running()
        assert server.life is not None
        return server.failure, server.life.pid

    failure, pid = with_server(test, ["tests.support.hostile_plugins:VARIANTS"])
    assert failure.startswith("the variant server died (killed by SIGKILL; its log is empty)")
    assert "could not be restarted: the variant server exited with code 2" in failure
    assert "marked broken for good" in failure and "\n" not in failure
    assert not alive(pid)


def test_deaths_are_told_in_one_line_without_a_traceback() -> None:
    log = (
        "INFO:     started\n"
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
        '  File "app.py", line 1, in <module>\n'
        "    raise RuntimeError('boom')\n"
        "RuntimeError: boom\n"
    )
    assert log_summary(log) == (
        "INFO:     started | ERROR:    Exception in ASGI application | RuntimeError: boom"
    )
    assert log_summary("") == ""
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with code 3"
