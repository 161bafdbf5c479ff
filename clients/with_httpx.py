"""``httpx`` clients: ``AsyncClient.stream()`` + ``aiter_text()``, and ``httpx-sse``.

``aiter_text()`` is what httpx users write to show text as it arrives (``aiter_bytes()``
plus a decoder of one's own is the long way to the same text): it decodes each read
as it comes, with an incremental decoder for the response's charset (UTF-8 when there
is none), so a character split across reads waits for its last byte, never ``\ufffd``.

``httpx-sse`` (``aconnect_sse`` + ``aiter_sse()``) refuses a response that is not
``text/event-stream`` and yields every event, whatever its type: like a browser's
EventSource listener, only events of the variant's token type (``message`` unless it
says otherwise) are shown, and its end marker (``end`` event or end data) ends the stream.
"""

from __future__ import annotations

import httpx

from streamcompat.clients import trust
from streamcompat.clients.events import show
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources


def _timeout(request: Request) -> httpx.Timeout:
    return httpx.Timeout(10.0, read=request.read_timeout)  # read: the bound on each read


def http_client(request: Request, http2: bool = False) -> httpx.AsyncClient:
    verify = trust.context(request.ca_file, "httpx-h2" if http2 else "httpx")
    if request.library_timeouts:  # httpx's own: 5 s for every read, as most users leave it
        return httpx.AsyncClient(verify=verify, http2=http2)
    return httpx.AsyncClient(timeout=_timeout(request), verify=verify, http2=http2)


async def first(http: httpx.AsyncClient, request: Request) -> None:
    """The keep-alive scenario's first request, read whole: its connection goes back to
    the client's pool, and the stream's request goes on it."""
    if request.first_url:
        answer = await http.get(request.first_url)
        if answer.is_error:
            raise ClientFailed(f"the first request: HTTP {answer.status_code}")


def _check(response: httpx.Response, report: Reporter) -> None:
    report.spoke(trust.alpn(response.http_version))
    report.opened(response.status_code, response.headers.get("content-type", ""))
    if response.is_error:  # raise_for_status() says it on three lines
        raise ClientFailed(f"HTTP {response.status_code} {response.reason_phrase}")


async def chunks(request: Request, report: Reporter, resources: Resources) -> None:
    await _chunks(request, report)


async def chunks_h2(request: Request, report: Reporter, resources: Resources) -> None:
    await _chunks(request, report, http2=True)


async def _chunks(request: Request, report: Reporter, http2: bool = False) -> None:
    body = request.body if request.method == "POST" else None
    async with http_client(request, http2) as http:
        await first(http, request)
        report.requesting()
        async with http.stream(request.method, request.url, json=body) as response:
            _check(response, report)
            async for text in response.aiter_text():
                if report.stopping():
                    break  # the user's stop: leaving the contexts closes the response
                if text:
                    report.surfaced(text)
            else:
                report.ended()
                return
    report.aborted()


async def events(request: Request, report: Reporter, resources: Resources) -> None:
    from httpx_sse import aconnect_sse  # an extra: the app under test may pin its own

    body = request.body if request.method == "POST" else None
    async with http_client(request) as http:
        await first(http, request)
        report.requesting()
        async with aconnect_sse(http, request.method, request.url, json=body) as source:
            # What aiter_sse() does first, before the head is reported: a response it
            # refuses (its content type) is refused, not taken, whatever comes next.
            report.spoke(trust.alpn(source.response.http_version))
            getattr(source, "_check_content_type", lambda: None)()
            _check(source.response, report)
            async for event in source.aiter_sse():
                if report.stopping():
                    break
                if show(event.event, event.data, request, report):
                    return
            else:
                report.ended("the body ended without an end marker")
                return
    report.aborted()


CLIENT = Client(
    "httpx",
    "chunk",
    chunks,
    "httpx AsyncClient.stream + aiter_text",
    group="python",
    keeps_connection=True,
)
H2_CLIENT = Client(
    "httpx-h2",
    "chunk",
    chunks_h2,
    "httpx AsyncClient(http2=True).stream + aiter_text: HTTP/2 where TLS offers it by ALPN",
    group="python",
    by_default=False,  # httpx itself over plain HTTP, where no HTTP/2 is offered
    keeps_connection=True,
)
SSE_CLIENT = Client(
    "httpx-sse",
    "event",
    events,
    "httpx-sse aconnect_sse + aiter_sse",
    group="python",
    modules=("httpx_sse",),
    keeps_connection=True,
)
