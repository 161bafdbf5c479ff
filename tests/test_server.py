"""The variant server over a real socket: control channel, gate, langchain token path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from harness.server import ServerError, ServerProcess
from servers.chain import Gate, token_stream

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


def test_the_control_channel_refuses_a_wrong_secret() -> None:
    async def main() -> str:
        server = ServerProcess(["builtin"], TOKENS)
        server.secret = "not the secret the server was given"
        real_send = server._send

        def send_wrong_secret(message: dict[str, Any]) -> None:
            if "secret" in message:
                message = {"secret": "wrong"}
            real_send(message)

        server._send = send_wrong_secret  # type: ignore[method-assign]
        try:
            await server.start()
            server.release("s1", 1)
            with pytest.raises(ServerError, match="refused"):
                await server.take("s1")
            return server._lost
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
    assert len(record["emitted_at"]) == 3 and record["done"] and record["requests"] == 1
    assert record["ended_at"] >= record["emitted_at"][-1]


def test_a_taken_stream_is_forgotten() -> None:
    async def test(server: ServerProcess) -> dict[str, Any]:
        server.release("t1", 2)
        first = await server.take("t1")
        assert first["released"] == 2
        return await server.take("t1")

    assert with_server(test)["released"] == 0


def test_the_server_ends_when_the_harness_closes_its_channel() -> None:
    async def test(server: ServerProcess) -> int | None:
        assert server.process is not None and server._control is not None
        server._control.close()
        return await asyncio.to_thread(server.process.wait, 10)

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
