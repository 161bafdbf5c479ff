"""The built-in variants. Adding one is adding an entry here; nothing else changes."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import StreamingResponse

from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.framings import (
    SSE_END,
    ASGIResponse,
    framed,
    ndjson,
    openai_chunk,
    openai_error,
    prefix_suffix,
    raw,
    sse,
    sse_error_event,
    sse_json,
    sse_lines,
    sse_naive,
    streaming,
)

EVENT_STREAM = "text/event-stream"


def _sse_named(tokens: AsyncIterator[str]) -> StreamingResponse:
    """langserve's shape: named token events with ids, a retry, a data-less ``end``, and
    an ``error`` event if the chain fails."""

    async def body() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        k = 0
        try:
            async for token in tokens:
                k += 1
                yield f"event: data\nid: {k}\n" + sse(token)
        except Exception as exc:  # as langserve does: an error event ends the stream
            yield sse_error_event(exc)
            return
        yield "event: end\n\n"

    return StreamingResponse(body(), media_type=EVENT_STREAM)


def _sse_starlette(tokens: AsyncIterator[str]) -> Any:
    from sse_starlette.sse import EventSourceResponse

    async def events() -> AsyncIterator[dict[str, str]]:
        async for token in tokens:
            yield {"data": token}
        yield {"event": "end", "data": ""}

    return EventSourceResponse(events())


#: Where ``_fastapi_sse`` hands a request's tokens to its (one) FastAPI app.
TOKENS_KEY = "streamcompat.tokens"


def _fastapi_sse(tokens: AsyncIterator[str]) -> ASGIResponse:
    app = _fastapi_sse_app()

    async def with_tokens(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, TOKENS_KEY: tokens}, receive, send)

    return ASGIResponse(with_tokens)


@functools.cache
def _fastapi_sse_app() -> Any:
    # FastAPI encodes in its routing layer, so the tokens go through a real path
    # operation with response_class=EventSourceResponse, as its users write it. One app
    # for every request (building routes costs milliseconds); the tokens come in the scope.
    # (``Request`` is imported at module level: FastAPI resolves the annotation there.)
    from fastapi import FastAPI
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"], response_class=EventSourceResponse)
    async def stream(request: Request) -> AsyncIterator[Any]:
        async for token in request.scope[TOKENS_KEY]:
            yield token  # JSON-encoded by FastAPI: data: "Hello"
        yield ServerSentEvent(event="end", raw_data="")

    return app


def _gzip(tokens: AsyncIterator[str]) -> ASGIResponse:
    inner = streaming(raw, "text/plain")(tokens)
    return ASGIResponse(GZipMiddleware(inner, minimum_size=0))


VARIANTS: tuple[Variant, ...] = (
    framed("raw", "text/plain", raw,
           description="text/plain, tokens written as they come (fetch-style streaming)"),
    framed("raw-event-stream", EVENT_STREAM, raw, framing="text",
           description="text/event-stream with no SSE framing at all (lanarky before 0.8, #121)"),
    framed("sse", EVENT_STREAM, sse, end=SSE_END,
           description="spec-correct SSE: a data: line per token line, blank-line end, end event"),
    framed("sse-json", EVENT_STREAM, sse_json, codec="json:token", end=SSE_END,
           description='SSE whose data is {"token": ...} (lanarky\'s JSON mode), end event'),
    framed("sse-naive", EVENT_STREAM, sse_naive, end=SSE_END,
           description='f"data: {token}\\n\\n", the first fix proposed in lanarky #121'),
    framed("sse-crlf", EVENT_STREAM, lambda t: sse_lines(t, "\r\n"),
           end=SSE_END.replace("\n", "\r\n"),
           description="SSE with CRLF line ends (sse-starlette's default separator)"),
    framed("sse-cr", EVENT_STREAM, lambda t: sse_lines(t, "\r"), end=SSE_END.replace("\n", "\r"),
           description="SSE with bare CR line ends (legal, rarely parsed right)"),
    framed("sse-nospace", EVENT_STREAM, lambda t: sse_lines(t, space=""), end=SSE_END,
           description="data:x with no space: parsers strip a token's own leading space"),
    framed("sse-bom", EVENT_STREAM, sse, start="\ufeff", end=SSE_END,
           description="SSE preceded by a UTF-8 BOM, which the spec strips once"),
    Variant("sse-named", _sse_named, content_type=EVENT_STREAM, event="data",
            description="langserve's shape: event: data, id:, retry:, a data-less end event; "
            "a failure is an error event"),
    framed("sse-comments", EVENT_STREAM, lambda t: ": ping\n" + sse(t),
           start=": stream open\n\n", end=SSE_END, heartbeat=": ping\n\n",
           description="comment lines (: ping) before every event, and as a heartbeat "
           "every 2 s without a token"),
    framed("openai", EVENT_STREAM, lambda t: openai_chunk(t), codec="openai",
           end=openai_chunk(None, "stop") + "data: [DONE]\n\n", end_data="[DONE]",
           error=openai_error,
           description="OpenAI chat.completion.chunk events ending with data: [DONE]; "
           'a failure is a data: {"error": ...} event'),
    framed("ndjson", "application/x-ndjson", ndjson, codec="json:token",
           description='application/x-ndjson, one {"token": ...} object per line'),
    prefix_suffix("prefix-suffix", "data: ", "\n\n",
                  description="prefix 'data: ' + suffix blank line, no end event "
                  "(the maintainer's proposal in lanarky #121)"),
    Variant("sse-starlette", _sse_starlette, content_type=EVENT_STREAM,
            description="sse-starlette's EventSourceResponse (CRLF), end event",
            modules=("sse_starlette",)),
    Variant("fastapi-sse", _fastapi_sse, codec="json", content_type=EVENT_STREAM,
            description="FastAPI's own EventSourceResponse (data JSON-encoded), end event"),
    Variant("gzip", _gzip, content_type="text/plain",
            description="raw text/plain behind Starlette's GZipMiddleware"),
)  # fmt: skip
