"""Plug-ins that go wrong in the ways real ones do; the tests run them for their verdicts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import PlainTextResponse

from servers import Variant


def _raises(tokens: AsyncIterator[str]) -> PlainTextResponse:
    raise RuntimeError("the factory broke")


def _not_a_response(tokens: AsyncIterator[str]) -> str:
    return "not a response"


def _not_streaming(tokens: AsyncIterator[str]) -> PlainTextResponse:
    return PlainTextResponse("the whole answer at once")


VARIANTS = [
    Variant("factory-raises", _raises),
    Variant("not-a-response", _not_a_response),
    Variant("not-streaming", _not_streaming),
]
NOT_VARIANTS = ["sse"]
