"""The built-in app a named server runs (``--server``; ``harness.kernel.servers``).

    python -m hypercorn streamcompat.servers.relay:app --bind 127.0.0.1:PORT

Every variant at ``/v/<name>``, asked as the variant server's are, each response fed by
the gated fake upstream (``servers.upstream``): the relay streams a chat completion from
``$OPENAI_BASE_URL`` with the stream's marker in its prompt, as an LLM app does
(``servers.completions``), and hands its tokens to the variant's response. Lockstep then
holds through whatever server runs it, in as many processes as that server makes: the
harness releases each token at the upstream, and sees it surface at the client. WSGI
servers run its twin, ``servers.relay_wsgi``. ``$STREAMCOMPAT_VARIANTS`` names the
variant specs (comma-separated; default: the built-ins).
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from streamcompat.harness.hosts.scripts import BLANK_PAGE
from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.completions import PROMPT, hello, upstream_tokens
from streamcompat.servers.peers import connection, says
from streamcompat.servers.plugins import BUILTIN, load_variants


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
    status, text = await hello(stream, says(connection(request)))
    return PlainTextResponse(text, status_code=status)


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
