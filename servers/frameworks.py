"""Variants for the frameworks beside Starlette, outside the default run:

    streamcompat run --variants streamcompat.servers.frameworks:VARIANTS \\
        --server uvicorn,daphne,gunicorn,gunicorn-gevent

Each streams the tokens as ``raw`` does (text/plain, each token as it comes), the way that
framework's users write a streamed response: Django's ``StreamingHttpResponse`` over a
sync iterator (a sync view) and over an async one (an async view), under ASGI (the
variant server itself, or the relay under an ASGI server) and under WSGI (the WSGI relay,
``servers.relay_wsgi``); Flask's ``Response(generator)``, bare and wrapped in
``stream_with_context``, under WSGI. Each framework's one app (Django's settings, Flask's
``Flask``) is made on first use, so the module imports without them; the tokens reach a
view in its request's scope (ASGI) or environ (WSGI), as ``fastapi-sse``'s do.

Django maps an iterator of the wrong kind for its interface to the right one by consuming
it whole, and warns (its docs, StreamingHttpResponse): a sync iterator under ASGI reaches
the view's thread through ``_blocking``, and an async one under WSGI reads the sync
upstream reader in the event loop Django runs it in (``_as_async``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import types
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from streamcompat.harness.kernel.model import ResponseFactory, Variant, WSGIFactory
from streamcompat.servers.framings import ASGIResponse

__all__ = ["VARIANTS"]

TEXT = "text/plain"
#: Where a framework's view finds its request's tokens, in the ASGI scope or WSGI environ.
TOKENS_KEY = "streamcompat.tokens"
#: The longest a view's thread waits for one token from the server's event loop: longer
#: than any cell (the harness's lockstep paces the tokens; its deadline ends the cell).
BRIDGE_S = 600.0

DJANGO_DOCS = (
    "https://docs.djangoproject.com/en/5.2/ref/request-response/#streaminghttpresponse-objects"
)
DJANGO_SYNC_UNDER_ASGI = (
    "django PR#19835 (and its docs): under ASGI a sync iterator is consumed whole before "
    "the first byte goes out (warning: 'StreamingHttpResponse must consume synchronous "
    f"iterators in order to serve them asynchronously'); {DJANGO_DOCS}"
)
DJANGO_ASYNC_UNDER_WSGI = (
    "Django's docs: under WSGI an async iterator is consumed whole (warning: "
    "'StreamingHttpResponse must consume asynchronous iterators in order to serve them "
    f"synchronously'); {DJANGO_DOCS}"
)
ASYNC_UNDER_GEVENT = (
    "benoitc/gunicorn#3070 (seen here too): under gunicorn's gevent worker, asgiref's "
    "AsyncToSync (how Django runs an async view and iterator under WSGI) fails while another "
    "request's runs, 'You cannot use AsyncToSync in the same thread as an async event loop' "
    "(every greenlet shares the one thread): HTTP 500 or not, by the timing, so no cell"
)
GEVENT_FLASK = (
    "benoitc/gunicorn#2936: a Flask stream (stream_with_context) under gunicorn's gevent "
    "worker arrived whole at the end (the maintainer: a generator must go back to gevent's "
    "loop between yields); run-llama/llama_index#4027 the same with an LLM's stream"
)


def _given(request: Any) -> Any:
    """The tokens handed to a Django view: in its scope (ASGI) or its environ (WSGI)."""
    scope = getattr(request, "scope", None)
    return (scope if scope is not None else request.environ)[TOKENS_KEY]


def _django_sync_view(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    tokens: Iterator[str] = _given(request)

    def body() -> Iterator[str]:  # a sync view, a sync iterator: WSGI-era code
        yield from tokens

    return StreamingHttpResponse(body(), content_type=f"{TEXT}; charset=utf-8")


async def _django_async_view(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    tokens: AsyncIterator[str] = _given(request)

    async def body() -> AsyncIterator[str]:
        async for token in tokens:
            yield token

    return StreamingHttpResponse(body(), content_type=f"{TEXT}; charset=utf-8")


DJANGO_VIEWS = {"django-sync": _django_sync_view, "django-async": _django_async_view}


@functools.cache
def _django() -> None:
    """Django configured once per process: no database, no middleware, one URL per view."""
    from django.conf import settings
    from django.urls import re_path

    urls = types.ModuleType("streamcompat_django_urls")  # ROOT_URLCONF may be a module
    urls.urlpatterns = [  # type: ignore[attr-defined]
        re_path(rf"^v/{re.escape(name)}(?:/|$)", view) for name, view in DJANGO_VIEWS.items()
    ]
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="streamcompat-relay-not-secret",
            ALLOWED_HOSTS=["*"],  # loopback only; a proxy in front may send its own Host
            ROOT_URLCONF=urls,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            # A view's failure goes to the server's log (by default only with DEBUG).
            LOGGING={
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"stderr": {"class": "logging.StreamHandler"}},
                "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
            },
        )


@functools.cache
def _django_asgi() -> Any:
    from django.core.asgi import get_asgi_application

    _django()
    return get_asgi_application()


@functools.cache
def _django_wsgi() -> Any:
    from django.core.wsgi import get_wsgi_application

    _django()
    return get_wsgi_application()


def _blocking(tokens: AsyncIterator[str], loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    """``tokens`` as a sync iterator for a view's thread: each token asked of the server's
    event loop, where the token stream lives."""

    async def step() -> str:
        return await anext(tokens)

    try:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(step(), loop).result(BRIDGE_S)
            except StopAsyncIteration:
                return
    finally:
        closing = getattr(tokens, "aclose", None)
        if closing is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(closing(), loop)


async def _as_async(tokens: Iterator[str]) -> AsyncIterator[str]:
    """A sync iterator as an async one, read in the event loop it is iterated in."""
    for token in tokens:
        yield token


def _body_read(receive: Any) -> Any:
    """The request's ``receive`` once the server's own route read its body: Django is
    handed an empty body, then only what comes after it (a disconnect)."""
    started = False

    async def receive_rest() -> Any:
        nonlocal started
        if not started:
            started = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the body, read already
                return message

    return receive_rest


def _under_asgi(sync: bool) -> ResponseFactory:
    def respond(tokens: AsyncIterator[str]) -> ASGIResponse:
        handler = _django_asgi()
        given = _blocking(tokens, asyncio.get_running_loop()) if sync else tokens

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await handler({**scope, TOKENS_KEY: given}, _body_read(receive), send)

        return ASGIResponse(app)

    return respond


def _under_wsgi(sync: bool) -> WSGIFactory:
    def respond_wsgi(tokens: Iterator[str]) -> Callable[..., Any]:
        handler = _django_wsgi()
        given = tokens if sync else _as_async(tokens)

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            return handler({**environ, TOKENS_KEY: given}, start_response)

        return app

    return respond_wsgi


@functools.cache
def _flask_app() -> Any:
    """One Flask app, a route per variant, written as Flask's streaming docs show."""
    from flask import Flask, Response, request, stream_with_context

    app = Flask(__name__)

    def plain() -> Any:
        tokens: Iterator[str] = request.environ[TOKENS_KEY]

        def generate() -> Iterator[str]:
            yield from tokens

        return Response(generate(), mimetype=TEXT)

    def with_context() -> Any:
        tokens: Iterator[str] = request.environ[TOKENS_KEY]

        def generate() -> Iterator[str]:
            yield from tokens

        return Response(stream_with_context(generate()), mimetype=TEXT)

    methods = ["GET", "POST"]
    app.add_url_rule("/v/flask", "flask", plain, methods=methods)
    app.add_url_rule("/v/flask-stream-with-context", "with_context", with_context, methods=methods)
    return app


def _flask(tokens: Iterator[str]) -> Callable[..., Any]:
    app = _flask_app()

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return app({**environ, TOKENS_KEY: tokens}, start_response)

    return wsgi


def _wsgi_only(tokens: AsyncIterator[str]) -> Any:
    raise AssertionError("a WSGI framework's variant runs under WSGI servers only")


BOTH = frozenset({"asgi", "wsgi"})
WSGI = frozenset({"wsgi"})

VARIANTS: tuple[Variant, ...] = (
    Variant("django-sync", _under_asgi(sync=True), respond_wsgi=_under_wsgi(sync=True),
            content_type=TEXT, interfaces=BOTH, modules=("django",),
            description="Django's StreamingHttpResponse over a sync iterator (a sync view), "
            "text/plain, under ASGI or WSGI",
            pitfalls=(DJANGO_SYNC_UNDER_ASGI,)),
    Variant("django-async", _under_asgi(sync=False), respond_wsgi=_under_wsgi(sync=False),
            content_type=TEXT, interfaces=BOTH, modules=("django",),
            description="Django's StreamingHttpResponse over an async iterator (an async "
            "view), text/plain, under ASGI or WSGI",
            not_under=frozenset({"gunicorn-gevent"}),
            pitfalls=(DJANGO_ASYNC_UNDER_WSGI, ASYNC_UNDER_GEVENT)),
    Variant("flask", _wsgi_only, respond_wsgi=_flask, content_type=TEXT, interfaces=WSGI,
            modules=("flask",),
            description="Flask's Response(generator), text/plain, under WSGI",
            pitfalls=(GEVENT_FLASK,)),
    Variant("flask-stream-with-context", _wsgi_only, respond_wsgi=_flask, content_type=TEXT,
            interfaces=WSGI, modules=("flask",),
            description="Flask's Response(stream_with_context(generator)), text/plain, "
            "under WSGI",
            pitfalls=(GEVENT_FLASK,)),
)  # fmt: skip
