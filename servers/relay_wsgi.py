"""The built-in app a named WSGI server runs (``--server gunicorn``; ``harness.kernel.servers``).

    python -m gunicorn streamcompat.servers.relay_wsgi:app -b 127.0.0.1:PORT

``servers.relay``'s twin for WSGI: every variant that runs under WSGI (a framework's, with
``Variant.respond_wsgi``) at ``/v/<name>``, asked as the variant server's are, its tokens
read from the gated fake upstream by a sync client (``servers.completions``), in the
worker's thread or greenlet, as a sync app reads its LLM. ``$STREAMCOMPAT_VARIANTS``
names the variant specs (comma-separated; default: the built-ins, none of which is WSGI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from streamcompat.harness.hosts.scripts import BLANK_PAGE
from streamcompat.harness.kernel.model import Variant
from streamcompat.servers.completions import PROMPT, hello_sync, upstream_tokens_sync
from streamcompat.servers.plugins import BUILTIN, load_variants

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: A request body this relay reads at most (its own JSON: a stream id and a prompt).
MAX_BODY = 1 << 20


def _answer(start_response: StartResponse, status: str, body: str, kind: str) -> list[bytes]:
    data = body.encode("utf-8")
    start_response(
        status, [("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _plain(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    return _answer(start_response, status, body, "text/plain")


def _asked(environ: dict[str, Any]) -> tuple[str, str] | str:
    """The stream id and prompt a request asks for, or what is wrong with it."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    stream = (query.get("stream") or [""])[0]
    prompt = PROMPT
    if environ["REQUEST_METHOD"] == "POST":
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
            body: Any = json.loads(environ["wsgi.input"].read(length) or b"null")
        except ValueError:
            return "body must be JSON"
        body = body if isinstance(body, dict) else {}
        if not stream and isinstance(body.get("stream"), str):
            stream = body["stream"]
        prompt = str(body.get("prompt", prompt))
    return (stream, prompt) if stream else "missing stream id"


def _peer(environ: dict[str, Any]) -> str:
    """The client's connection as a WSGI server lets its app see it: the port (gunicorn's
    REMOTE_PORT); TCP_NODELAY on the socket is not the app's to read (``servers.peers``)."""
    port = str(environ.get("REMOTE_PORT", ""))
    return f"{port} ?" if port.isdigit() else ""


def create_relay(specs: list[str]) -> WSGIApp:
    variants = {v.name: v for v in load_variants(specs) if "wsgi" in v.interfaces}
    for variant in variants.values():
        # Each framework's app made now, at the worker's start (in gunicorn's master with
        # --preload): a worker's first request would otherwise import its framework
        # first, seconds on a loaded machine, while the stream waits.
        if variant.respond_wsgi is not None:
            variant.respond_wsgi(iter(()))

    def relay(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_sc/health":
            return _plain(start_response, "200 OK", "ok")
        if path == "/_sc/blank":
            # The browser drivers' page, from the server itself, as the variant server's.
            return _answer(start_response, "200 OK", BLANK_PAGE, "text/html")
        if path == "/_sc/hello":  # the keep-alive scenario's first request
            stream = (parse_qs(environ.get("QUERY_STRING", "")).get("stream") or [""])[0]
            if not stream:
                return _plain(start_response, "400 Bad Request", "missing stream id")
            status, text = hello_sync(stream, _peer(environ))
            return _plain(start_response, f"{status} {HTTPStatus(status).phrase}", text)
        variant: Variant | None = variants.get(path.removeprefix("/v/"))
        if not path.startswith("/v/") or variant is None or variant.respond_wsgi is None:
            return _plain(start_response, "404 Not Found", f"no WSGI variant at {path}")
        if environ["REQUEST_METHOD"] not in variant.methods:
            return _plain(start_response, "405 Method Not Allowed", "method not allowed")
        asked = _asked(environ)
        if isinstance(asked, str):
            return _plain(start_response, "400 Bad Request", asked)
        app: WSGIApp = variant.respond_wsgi(upstream_tokens_sync(*asked, _peer(environ)))
        return app(environ, start_response)

    return relay


app = create_relay([s for s in os.environ.get("STREAMCOMPAT_VARIANTS", BUILTIN).split(",") if s])
