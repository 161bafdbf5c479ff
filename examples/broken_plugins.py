"""Plug-ins that go wrong in the ways real ones do; the tests run them for their verdicts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import PlainTextResponse, StreamingResponse

from streamcompat import Variant


def _raises(tokens: AsyncIterator[str]) -> PlainTextResponse:
    raise RuntimeError("the factory broke")


def _not_a_response(tokens: AsyncIterator[str]) -> str:
    return "not a response"


def _not_streaming(tokens: AsyncIterator[str]) -> PlainTextResponse:
    return PlainTextResponse("the whole answer at once")


def _dies_midway(tokens: AsyncIterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        async for k, token in _numbered(tokens):
            if k == 4:
                raise RuntimeError("the model server went away")
            yield token

    return StreamingResponse(body(), media_type="text/plain")


def _invalid_utf8(tokens: AsyncIterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for k, token in _numbered(tokens):
            # A token cut inside a multi-byte sequence, as byte-level tokenizers emit.
            yield token.encode()[:-1] if k == 4 else token.encode()

    return StreamingResponse(body(), media_type="text/plain")


async def _numbered(tokens: AsyncIterator[str]) -> AsyncIterator[tuple[int, str]]:
    k = 0
    async for token in tokens:
        k += 1
        yield k, token


VARIANTS = [
    Variant("factory-raises", _raises),
    Variant("not-a-response", _not_a_response),
    Variant("not-streaming", _not_streaming),
    Variant("dies-midway", _dies_midway),
    Variant("invalid-utf8", _invalid_utf8),
]
NOT_VARIANTS = ["sse"]
