"""The variant server's app: every variant at ``/v/<name>``, gated per stream.

Tokens of a stream are only emitted as the harness releases them, over its control
channel (``servers.control``); ``/_sc/`` holds the health check, the browser drivers'
blank page and the spec corpus replay; ``/v1/chat/completions`` is the fake OpenAI
upstream that apps under test call (``servers.upstream``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from streamcompat.harness.hosts.scripts import BLANK_PAGE
from streamcompat.harness.kernel.model import Variant
from streamcompat.harness.spec.sse_corpus import CASES, byte_chunks
from streamcompat.servers.chain import token_stream
from streamcompat.servers.control import Streams
from streamcompat.servers.framings import SCRIPT
from streamcompat.servers.peers import connection, relayed
from streamcompat.servers.upstream import add_upstream

CORPUS = {case.name: case.wire for case in CASES}
__all__ = ["BLANK_PAGE", "create_app"]


def create_app(variants: Sequence[Variant], tokens: Sequence[str], streams: Streams) -> FastAPI:
    app = FastAPI(title="streamcompat variant server", docs_url=None, redoc_url=None)

    @app.get("/_sc/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "variants": [v.name for v in variants]}

    @app.get("/_sc/blank", response_class=HTMLResponse)
    async def blank() -> str:
        return BLANK_PAGE  # the browser drivers' page, so that requests are same-origin

    @app.get("/_sc/hello", response_class=PlainTextResponse)
    @app.get("/v1/_sc/hello", response_class=PlainTextResponse)  # a relay's, by its base URL
    async def hello(request: Request, stream: str = "") -> Response:
        """The keep-alive scenario's first request: the connection it came on, kept with the
        stream's record (a relay's: the one its client came on, which it says)."""
        if not stream:
            return PlainTextResponse("missing stream id", status_code=400)
        port, nodelay = relayed(request) or connection(request)
        streams.gate(stream).connections.append(["first", port, nodelay])
        return PlainTextResponse("hello\n")

    @app.api_route("/_sc/replay/{case}", methods=["GET", "POST"])
    async def replay(case: str, split: bool = False) -> Response:
        """A spec corpus case's bytes, verbatim: what each SSE parser makes of them.

        ``split=true`` sends every byte as its own HTTP chunk (but in the middle of a
        long line: ``byte_chunks``), so that even clients reading whole chunks (requests,
        urllib3) see lines and CRLFs cut apart.
        """
        wire = CORPUS.get(case)
        if wire is None:
            return PlainTextResponse(f"no corpus case {case!r}", status_code=404)

        async def body() -> AsyncIterator[bytes]:
            for piece in byte_chunks(wire) if split else [wire]:
                yield piece

        return StreamingResponse(body(), headers={"content-type": "text/event-stream"})

    add_upstream(app, tokens, streams)  # what apps under test call (app mode)
    for variant in (v for v in variants if "asgi" in v.interfaces):  # not WSGI-only ones
        endpoint = _endpoint(variant, tokens, streams)
        # Where the SDKs post, given /v/<name>: OpenAI-style ones (base_url), langserve's
        # RemoteRunnable (url).
        for path in (
            f"/v/{variant.name}",
            f"/v/{variant.name}/chat/completions",
            f"/v/{variant.name}/stream",
        ):
            app.add_api_route(
                path, endpoint, methods=sorted(variant.methods), response_class=Response
            )
    return app


def _endpoint(variant: Variant, tokens: Sequence[str], streams: Streams) -> Any:
    async def endpoint(request: Request) -> Any:
        stream = request.query_params.get("stream", "")
        prompt = "Say something that breaks clients."
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return PlainTextResponse("body must be JSON", status_code=400)
            body = body if isinstance(body, dict) else {}
            # langserve's requests carry the chain's input under "input".
            body = body["input"] if isinstance(body.get("input"), dict) else body
            # OpenAI-style bodies use "stream": true; the id then comes in the query.
            if not stream and isinstance(body.get("stream"), str):
                stream = body["stream"]
            prompt = str(body.get("prompt", prompt))
        if not stream:
            return PlainTextResponse("missing stream id", status_code=400)
        g = streams.start(stream)
        g.connections.append(["stream", *connection(request)])
        SCRIPT.set(tuple(tokens))
        try:
            response = variant.respond(token_stream(g, tokens, prompt))
        except Exception as exc:  # a plug-in's factory failing is reported, not a traceback
            g.error = f"the response factory raised {exc!r}"
        else:
            if isinstance(response, Response):
                return response
            g.error = f"the response factory returned {type(response).__name__}, not a response"
        return PlainTextResponse(f"variant {variant.name!r}: {g.error}", status_code=500)

    return endpoint
