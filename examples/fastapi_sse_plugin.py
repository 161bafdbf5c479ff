"""Gate FastAPI's native SSE (``fastapi.sse``, FastAPI >= 0.135), two ways.

    streamcompat run --variants examples.fastapi_sse_plugin:VARIANTS --baseline mine.json

FastAPI encodes events in its routing layer, so the factory mounts a real path
operation with ``response_class=EventSourceResponse`` and hands the request to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent

from streamcompat import ASGIResponse, Variant


def _app(tokens: AsyncIterator[str], raw: bool) -> ASGIResponse:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"], response_class=EventSourceResponse)
    async def stream() -> AsyncIterator[Any]:
        async for token in tokens:
            # By default FastAPI JSON-encodes data ("Hello" -> data: "Hello").
            yield ServerSentEvent(raw_data=token) if raw else token
        yield ServerSentEvent(event="end", raw_data="")

    return ASGIResponse(app)


VARIANTS = [
    Variant("my-fastapi-sse", lambda t: _app(t, raw=False), codec="json"),
    Variant("my-fastapi-sse-raw", lambda t: _app(t, raw=True), codec="text"),
]
