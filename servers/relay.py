"""The built-in app a named server runs (``--server``; ``harness.kernel.servers``).

    python -m hypercorn streamcompat.servers.relay:app --bind 127.0.0.1:PORT

Every variant at ``/v/<name>``, asked as the variant server's are, each response fed by
the gated fake upstream (``servers.upstream``): the relay streams a chat completion from
``$OPENAI_BASE_URL`` with the stream's marker in its prompt, as an LLM app does, and
hands its tokens to the variant's response. Lockstep then holds through whatever server
runs it, in as many processes as that server makes: the harness releases each token at
the upstream, and sees it surface at the client. ``$STREAMCOMPAT_VARIANTS`` names the
variant specs (comma-separated; default: the built-ins).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from streamcompat.harness.hosts.scripts import BLANK_PAGE
from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.peers import PEER_HEADER, connection, says
from streamcompat.servers.plugins import BUILTIN, load_variants

#: The stream's marker in the prompt (``harness.engine.app.marker``).
MARKER = "sc-{stream}"
PROMPT = "Say something that breaks clients."


class UpstreamFailed(RuntimeError):
    """The upstream's stream broke off or said it failed: what an LLM SDK raises."""


_client: httpx.AsyncClient | None = None


def _upstream() -> httpx.AsyncClient:
    """One client per process (a worker's own), made in its event loop on first use."""
    global _client
    if _client is None:
        base = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
        _client = httpx.AsyncClient(
            base_url=base, timeout=httpx.Timeout(None, connect=10.0), trust_env=False
        )
    return _client


async def upstream_tokens(stream: str, prompt: str, peer: str = "") -> AsyncIterator[str]:
    """The upstream's tokens for ``stream``, as it streams them; UpstreamFailed if its
    stream ends without ``[DONE]`` or breaks off. ``peer``: the client's connection, as
    the relay saw it (``servers.peers``), for the stream's record."""
    body = {
        "model": "streamcompat-fake",
        "stream": True,
        "messages": [{"role": "user", "content": f"{prompt} {MARKER.format(stream=stream)}"}],
    }
    try:
        headers = {PEER_HEADER: peer} if peer else {}
        call = _upstream().stream("POST", "/chat/completions", json=body, headers=headers)
        async with call as response:
            if response.status_code != 200:
                raise UpstreamFailed(f"the upstream answered {response.status_code}")
            pending = b""
            async for data in response.aiter_bytes():
                pending += data
                # Split on LF only: a token's own line breaks are inside its JSON.
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.startswith(b"data: "):
                        continue
                    if line == b"data: [DONE]":
                        return
                    chunk: Any = json.loads(line[len(b"data: ") :])
                    token = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
                    if token:
                        yield token
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"the upstream's stream broke off: {exc!r}") from exc
    raise UpstreamFailed("the upstream's stream ended without [DONE]")


def _endpoint(variant: Variant) -> Any:
    async def endpoint(request: Request) -> Response:
        stream = request.query_params.get("stream", "")
        prompt = PROMPT
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return PlainTextResponse("body must be JSON", status_code=400)
            body = body if isinstance(body, dict) else {}
            if not stream and isinstance(body.get("stream"), str):
                stream = body["stream"]
            prompt = str(body.get("prompt", prompt))
        if not stream:
            return PlainTextResponse("missing stream id", status_code=400)
        peer = says(connection(request))
        response: Response = variant.respond(upstream_tokens(stream, prompt, peer))
        return response

    return endpoint


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _hello(request: Request) -> Response:
    """The keep-alive scenario's first request: the relay says which connection it came
    on to the upstream, where the stream's record is kept."""
    stream = request.query_params.get("stream", "")
    if not stream:
        return PlainTextResponse("missing stream id", status_code=400)
    headers = {PEER_HEADER: says(connection(request))}
    try:
        said = await _upstream().get("/_sc/hello", params={"stream": stream}, headers=headers)
    except httpx.HTTPError as exc:
        return PlainTextResponse(f"the upstream did not answer: {exc!r}", status_code=502)
    return PlainTextResponse(said.text, status_code=said.status_code)


async def _blank(request: Request) -> Response:
    # The browser drivers' page, from the server itself, as the variant server serves it:
    # a page's stream then goes over the connection its page came on (keep-alive).
    return HTMLResponse(BLANK_PAGE)


def create_relay(specs: list[str]) -> Starlette:
    variants = [v for v in load_variants(specs) if "asgi" in v.interfaces]
    routes = [Route("/_sc/health", _health), Route("/_sc/blank", _blank)]
    routes.append(Route("/_sc/hello", _hello))
    for variant in variants:
        routes.append(
            Route(f"/v/{variant.name}", _endpoint(variant), methods=sorted(variant.methods))
        )
    return Starlette(routes=routes)


app = create_relay([s for s in os.environ.get("STREAMCOMPAT_VARIANTS", BUILTIN).split(",") if s])
