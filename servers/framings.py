"""Framings: how one token becomes bytes on the wire, and the responses that send them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import StreamingResponse

from harness.model import ResponseFactory, Variant

Frame = Callable[[str], str]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: A named end event with (empty) data: a ``data`` field is what makes an SSE block
#: fire, so EventSource sees it and can close instead of reconnecting.
SSE_END = "event: end\ndata:\n\n"


def raw(token: str) -> str:
    return token


def sse(token: str) -> str:
    """Spec-correct SSE: one ``data:`` line per line of the token, then a blank line."""
    return "".join(f"data: {line}\n" for line in _LINE_BREAK.split(token)) + "\n"


def sse_json(token: str) -> str:
    """Each event's data is ``{"token": ...}`` (lanarky's JSON mode); JSON has no raw newlines."""
    return sse(json.dumps({"token": token}))


def streaming(
    frame: Frame,
    media_type: str,
    *,
    start: str = "",
    end: str = "",
    headers: Mapping[str, str] | None = None,
) -> ResponseFactory:
    """A response factory writing ``start``, each framed token as it comes, then ``end``."""

    def respond(tokens: AsyncIterator[str]) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            if start:
                yield start
            async for token in tokens:
                yield frame(token)
            if end:
                yield end

        return StreamingResponse(body(), media_type=media_type, headers=headers)

    return respond


def framed(
    name: str,
    media_type: str,
    frame: Frame,
    *,
    codec: str = "text",
    description: str = "",
    start: str = "",
    end: str = "",
    headers: Mapping[str, str] | None = None,
) -> Variant:
    """A variant that frames each token on its own: the built-ins are all made this way."""
    return Variant(
        name=name,
        respond=streaming(frame, media_type, start=start, end=end, headers=headers),
        codec=codec,
        content_type=media_type,
        description=description,
    )
