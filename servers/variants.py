"""The built-in variants. Adding one is adding an entry here; nothing else changes."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import StreamingResponse

from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.framings import (
    AI_UI_END,
    AI_UI_HEADERS,
    AI_UI_START,
    SSE_END,
    ASGIResponse,
    ai_ui_delta,
    ai_ui_error,
    framed,
    langserve_event,
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


def _langserve(tokens: AsyncIterator[str]) -> StreamingResponse:
    """langserve's ``POST /stream`` (its API docs): a ``metadata`` event with the run's id
    once the first chunk is out, an ``event: data`` per chunk with the chunk as JSON (a
    string chunk: a JSON string, non-ASCII raw), a data-less ``end``. A failure: an
    ``error`` event with a generic message, then the exception goes on and the server
    cuts the body off, as langserve re-raises."""

    async def body() -> AsyncIterator[str]:
        first = True
        try:
            async for token in tokens:
                if first:
                    first = False
                    yield langserve_event("metadata", json.dumps({"run_id": str(uuid.uuid4())}))
                yield langserve_event("data", json.dumps(token, ensure_ascii=False))
        except Exception:
            failure = {"status_code": 500, "message": "Internal Server Error"}
            yield langserve_event("error", json.dumps(failure))
            raise
        yield langserve_event("end")

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
    framed("ai-ui", EVENT_STREAM, ai_ui_delta, codec="ai-ui", start=AI_UI_START, end=AI_UI_END,
           end_data="[DONE]", error=ai_ui_error, headers=AI_UI_HEADERS,
           methods=frozenset({"POST"}),
           description="the AI SDK's UI message stream: SSE of JSON parts (text-delta), "
           "x-vercel-ai-ui-message-stream: v1, data: [DONE]; a failure is an error part"),
    Variant("langserve", _langserve, codec="langserve", content_type=EVENT_STREAM, event="data",
            methods=frozenset({"POST"}),
            description="langserve's POST /stream: CRLF SSE, a metadata event, event: data "
            "with each chunk as JSON, a data-less end event; a failure is an error event"),
    Variant("sse-starlette", _sse_starlette, content_type=EVENT_STREAM,
            description="sse-starlette's EventSourceResponse (CRLF), end event",
            modules=("sse_starlette",)),
    Variant("fastapi-sse", _fastapi_sse, codec="json", content_type=EVENT_STREAM,
            description="FastAPI's own EventSourceResponse (data JSON-encoded), end event"),
    Variant("gzip", _gzip, content_type="text/plain",
            description="raw text/plain behind Starlette's GZipMiddleware"),
)  # fmt: skip
