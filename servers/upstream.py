"""The gated fake OpenAI upstream that apps under test call (app mode).

``POST /v1/chat/completions`` (and ``/chat/completions``) streams the script's tokens as
``chat.completion.chunk`` events, each only once the harness releases it: the same gates
and control channel as the variants. The harness puts a stream marker (``sc-<16 hex>``)
in the prompt it sends the app; the app passes it on inside its messages, and the marker
names the gate, so that cells run in parallel.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from streamcompat.servers.chain import token_stream
from streamcompat.servers.control import Streams
from streamcompat.servers.framings import openai_chunk
from streamcompat.servers.peers import PACED, PULL_HEADER, WANT_PATH, relayed

#: How the harness marks a stream in the prompt (``harness.app.marker``).
MARKER = re.compile(r"\bsc-([0-9a-f]{16})\b")
DONE = "data: [DONE]\n\n"


def find_stream(body: Any) -> str:
    """The stream id marked in a chat completion request's messages, or ``""``."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        # Content is a string, or a list of parts ({"type": "text", "text": ...}).
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else part
            if isinstance(text, str) and (found := MARKER.search(text)):
                return found.group(1)
    return ""


def _error(message: str, status: int = 400) -> JSONResponse:
    """An error the way OpenAI's API sends one, so that the app's SDK raises it as such."""
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return JSONResponse(body, status_code=status)


def add_upstream(app: FastAPI, tokens: Sequence[str], streams: Streams) -> None:
    """Add the fake upstream's routes to the variant server's ``app``."""

    async def completions(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _error("the request body is not JSON")
        stream = find_stream(body)
        if not stream:
            return _error(
                "streamcompat's fake upstream found no stream marker (sc-<16 hex>) in the "
                "messages: pass the user's prompt through to the model"
            )
        gate = streams.start(stream)
        if (peer := relayed(request)) is not None:  # a relay's client's connection
            gate.connections.append(["stream", *peer])
        gate.relay_paces = request.headers.get(PULL_HEADER) == "1"
        if body.get("stream") is not True:
            gate.error = "the app called the upstream without stream: true"
            return _error(f"streamcompat's fake upstream only streams: {gate.error}")

        async def chunks() -> AsyncIterator[str]:
            told = False
            async for token in token_stream(gate, tokens, f"sc-{stream}"):
                if gate.left and gate.relay_paces and not told:
                    told = True
                    yield f"{PACED}\n\n"
                yield openai_chunk(token)
            yield openai_chunk(None, finish="stop")
            yield DONE

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def want(stream: str = "", k: int = 0) -> Response:
        """A relay's response waits for token ``k`` of ``stream`` (``Gate.pull``)."""
        gate = streams.gates.get(stream)
        if gate is None or k < 1:
            return PlainTextResponse("no such stream, or no token k", status_code=404)
        gate.pull(k)
        return Response(status_code=204)

    for path in ("/v1/chat/completions", "/chat/completions"):
        app.add_api_route(path, completions, methods=["POST"])
    for path in (WANT_PATH, f"/v1{WANT_PATH}"):
        app.add_api_route(path, want, methods=["POST"])
