"""The variant server over a real socket: control channel, gate, langchain token path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from harness.server import SECRET_HEADER, ServerError, ServerProcess
from servers.chain import Gate, token_stream

TOKENS = ["a", " b", "\nc"]


def with_server(
    test: Callable[[ServerProcess], Awaitable[Any]], specs: list[str] | None = None
) -> Any:
    async def main() -> Any:
        async with ServerProcess(specs or ["builtin"], TOKENS) as server:
            return await asyncio.wait_for(test(server), 20)

    return asyncio.run(main())


def test_control_channel_refuses_callers_without_the_secret() -> None:
    async def test(server: ServerProcess) -> list[int]:
        url = f"{server.origin}/_sc/streams/s1/release?upto=3"
        statuses = []
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: server.secret}):
                async with session.post(url, headers=headers) as response:
                    statuses.append(response.status)
        return statuses

    assert with_server(test) == [403, 403, 200]


def test_tokens_flow_only_as_released() -> None:
    async def test(server: ServerProcess) -> tuple[list[bytes], bool, dict[str, Any]]:
        got: list[bytes] = []
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.origin}/v/raw?stream=g1") as response,
        ):
            assert await server.started("g1", 5)
            await server.release("g1", 1)
            got.append(await response.content.readany())
            try:  # nothing more may come before the next release
                await asyncio.wait_for(response.content.readany(), 0.3)
                held = False
            except asyncio.TimeoutError:
                held = True
            await server.release("g1", 3)
            got.append(await response.content.read())
        return got, held, await server.record("g1")

    got, held, record = with_server(test)
    assert got[0] == b"a" and held
    assert got[1] == b" b\nc"
    assert len(record["emitted_at"]) == 3 and record["done"]


def test_started_is_false_for_a_stream_nobody_opened() -> None:
    async def test(server: ServerProcess) -> bool:
        return await server.started("never", 0.2)

    assert with_server(test) is False


def test_unknown_plugin_fails_start_with_its_reason() -> None:
    with pytest.raises(ServerError, match="cannot import"):
        with_server(lambda s: asyncio.sleep(0), specs=["no_such_module:VARIANTS"])


def test_chain_tokens_come_through_the_callback_handler_in_order() -> None:
    async def main() -> list[str]:
        gate = Gate()
        await gate.release(len(TOKENS))
        stream: AsyncIterator[str] = token_stream(gate, TOKENS, "hi")
        return [t async for t in stream]

    assert asyncio.run(main()) == TOKENS


def test_chain_waits_on_the_gate() -> None:
    async def main() -> tuple[str, bool]:
        gate = Gate()
        stream = token_stream(gate, TOKENS, "hi")
        await gate.release(1)
        first = await anext(stream)
        try:
            await asyncio.wait_for(anext(stream), 0.2)
            waited = False
        except asyncio.TimeoutError:
            waited = True
        await stream.aclose()
        return first, waited

    assert asyncio.run(main()) == ("a", True)
