"""Framings: how one token becomes bytes on the wire, and the responses that send them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from streamcompat.harness.kernel.model import ResponseFactory, Variant

Frame = Callable[[str], str]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: A named end event with (empty) data: a ``data`` field is what makes an SSE block
#: fire, so EventSource sees it and can close instead of reconnecting.
SSE_END = "event: end\ndata:\n\n"
#: The token script of the request being answered, for a response that must know its
#: whole body before its first byte (a ``Content-Length`` on a stream); set per request.
SCRIPT: ContextVar[tuple[str, ...]] = ContextVar("streamcompat_script", default=())

#: Seconds without a token after which a heartbeat goes out: under httpx's default read
#: timeout (5 s), unlike sse-starlette's and FastAPI's default pings (15 s).
HEARTBEAT_S = 2.0


def raw(token: str) -> str:
    return token


def sse_lines(token: str, eol: str = "\n", space: str = " ") -> str:
    """One ``data:`` line per line of the token, then a blank line, with the given endings."""
    return "".join(f"data:{space}{line}{eol}" for line in _LINE_BREAK.split(token)) + eol


def sse(token: str) -> str:
    """Spec-correct SSE: one ``data:`` line per line of the token, then a blank line."""
    return sse_lines(token)


def sse_naive(token: str) -> str:
    """The first fix proposed in lanarky #121: breaks on any token holding a newline."""
    return f"data: {token}\n\n"


def ndjson(token: str) -> str:
    return json.dumps({"token": token}) + "\n"


def openai_chunk(token: str | None, finish: str | None = None) -> str:
    """An OpenAI ``chat.completion.chunk`` event carrying one token."""
    delta = {"content": token} if token is not None else {}
    chunk = {
        "id": "chatcmpl-streamcompat",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "streamcompat-fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return sse(json.dumps(chunk))


def openai_error(exc: Exception) -> str:
    """How OpenAI-compatible servers (vLLM among them) report a failure mid-stream: a
    ``data: {"error": ...}`` event, then ``data: [DONE]``."""
    failure = {"message": str(exc), "type": "server_error", "param": None, "code": None}
    return sse(json.dumps({"error": failure})) + "data: [DONE]\n\n"


def sse_error_event(exc: Exception) -> str:
    """langserve's report of a failure mid-stream: an ``error`` event with a JSON body."""
    return "event: error\n" + sse(json.dumps({"status_code": 500, "message": str(exc)}))


#: The AI SDK's UI message stream (its docs, "Stream Protocols"): SSE whose every event's
#: data is one JSON part, these response headers (the protocol's marker among them), and
#: ``data: [DONE]`` at the end. Its servers write parts with ``JSON.stringify``: no spaces,
#: no escapes but the ones JSON needs (U+2028 goes raw).
AI_UI_HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-accel-buffering": "no",
}
AI_UI_TEXT_ID = "t0"  # the one text part the tokens stream into


def ai_ui_part(part: Mapping[str, str]) -> str:
    return f"data: {json.dumps(part, ensure_ascii=False, separators=(',', ':'))}\n\n"


def ai_ui_delta(token: str) -> str:
    return ai_ui_part({"type": "text-delta", "id": AI_UI_TEXT_ID, "delta": token})


#: A message with one step and one text part opens ...
AI_UI_START = (
    ai_ui_part({"type": "start"})
    + ai_ui_part({"type": "start-step"})
    + ai_ui_part({"type": "text-start", "id": AI_UI_TEXT_ID})
)
#: ... and closes, then the end sentinel.
AI_UI_END = (
    ai_ui_part({"type": "text-end", "id": AI_UI_TEXT_ID})
    + ai_ui_part({"type": "finish-step"})
    + ai_ui_part({"type": "finish"})
    + "data: [DONE]\n\n"
)


def ai_ui_error(exc: Exception) -> str:
    """A failure mid-stream: an ``error`` part (its ``errorText``), then the end sentinel."""
    return ai_ui_part({"type": "error", "errorText": str(exc)}) + "data: [DONE]\n\n"


def langserve_event(event: str, data: str | None = None) -> str:
    """One event of langserve's ``/stream``, as sse-starlette (which it serves with) writes
    it: CRLF line ends, ``event`` before ``data``, no ``data`` field when there is none."""
    return f"event: {event}\r\n" + ("" if data is None else f"data: {data}\r\n") + "\r\n"


def sse_json(token: str) -> str:
    """Each event's data is ``{"token": ...}`` (lanarky's JSON mode); JSON has no raw newlines."""
    return sse(json.dumps({"token": token}))


async def with_heartbeats(tokens: AsyncIterator[str], every: float) -> AsyncIterator[str | None]:
    """The tokens, and None each time ``every`` seconds pass without one (a heartbeat is due).

    The next token is awaited in a task of its own, so that a heartbeat does not cancel
    it; closing this generator cancels it, and with it the token source.
    """
    while True:
        coming = asyncio.ensure_future(anext(tokens))
        try:
            while not (await asyncio.wait({coming}, timeout=every))[0]:
                yield None
        finally:
            coming.cancel()
        try:
            yield coming.result()
        except StopAsyncIteration:
            return


def streaming(
    frame: Frame,
    media_type: str,
    *,
    start: str = "",
    end: str = "",
    heartbeat: str = "",
    headers: Mapping[str, str] | None = None,
    error: Callable[[Exception], str] | None = None,
) -> ResponseFactory:
    """A response factory writing ``start``, each framed token as it comes, then ``end``;
    ``heartbeat`` too whenever HEARTBEAT_S pass without a token.

    If the token stream raises, ``error`` says so on the wire (e.g. an SSE ``error``
    event) and the body ends there; without it the exception propagates, and the server
    cuts the body off (no chunked terminator), as Starlette does.
    """

    def respond(tokens: AsyncIterator[str]) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            if start:
                yield start
            try:
                if heartbeat:
                    async for token in with_heartbeats(tokens, HEARTBEAT_S):
                        yield heartbeat if token is None else frame(token)
                else:
                    async for token in tokens:
                        yield frame(token)
            except Exception as exc:
                if error is None:
                    raise
                yield error(exc)
                return
            if end:
                yield end

        return StreamingResponse(body(), media_type=media_type, headers=headers)

    return respond


class ASGIResponse(Response):
    """A response that hands the request to an ASGI app: middleware, or a whole sub-app."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def framed(
    name: str,
    media_type: str,
    frame: Frame,
    *,
    codec: str = "text",
    description: str = "",
    start: str = "",
    end: str = "",
    heartbeat: str = "",
    headers: Mapping[str, str] | None = None,
    error: Callable[[Exception], str] | None = None,
    **variant: Any,
) -> Variant:
    """A variant that frames each token on its own (most built-ins are made this way);
    ``error`` frames a failure of the chain (see ``streaming``)."""
    return Variant(
        name=name,
        respond=streaming(
            frame,
            media_type,
            start=start,
            end=end,
            heartbeat=heartbeat,
            headers=headers,
            error=error,
        ),
        codec=codec,
        content_type=media_type,
        description=description,
        **variant,
    )


def prefix_suffix(
    name: str,
    prefix: str,
    suffix: str,
    media_type: str = "text/event-stream",
    **variant: Any,
) -> Variant:
    """Each token wrapped in a fixed prefix and suffix (the proposal in lanarky #121)."""
    return framed(name, media_type, lambda token: f"{prefix}{token}{suffix}", **variant)
