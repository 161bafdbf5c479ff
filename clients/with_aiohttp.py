"""``aiohttp`` clients: ``content.iter_any()`` and line iteration (``async for line``)."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from streamcompat.clients import trust
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources


@asynccontextmanager
async def _open(request: Request, report: Reporter) -> AsyncIterator[aiohttp.ClientResponse]:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=request.read_timeout)
    body = request.body if request.method == "POST" else None
    tls = trust.context(request.ca_file, "aiohttp") if request.ca_file else True
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if request.first_url:  # keep-alive: read whole, its connection back in the pool
            async with session.get(request.first_url, ssl=tls) as first:
                await first.read()
                if not first.ok:
                    raise ClientFailed(f"the first request: HTTP {first.status}")
        report.requesting()
        async with session.request(request.method, request.url, json=body, ssl=tls) as response:
            yield await _opened(response, report)


async def _opened(response: aiohttp.ClientResponse, report: Reporter) -> aiohttp.ClientResponse:
    if (version := response.version) is not None:  # aiohttp speaks HTTP/1.x only
        report.spoke(f"http/{version.major}.{version.minor}")
    report.opened(response.status, response.headers.get("content-type", ""))
    response.raise_for_status()
    return response


async def chunks(request: Request, report: Reporter, resources: Resources) -> None:
    async with _open(request, report) as response:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")  # reads split UTF-8
        async for chunk in response.content.iter_any():
            if report.stopping():
                break  # the user's stop: leaving the contexts closes the connection
            text = decoder.decode(chunk)
            if text:
                report.surfaced(text)
        else:
            tail = decoder.decode(b"", final=True)
            if tail:
                report.surfaced(tail)
            report.ended()
            return
    report.aborted()


async def lines(request: Request, report: Reporter, resources: Resources) -> None:
    async with _open(request, report) as response:
        async for line in response.content:  # each line keeps its b"\n"
            if report.stopping():
                break
            text = line.decode("utf-8", "replace")
            report.surfaced(text.removesuffix("\n").removesuffix("\r"))
        else:
            report.ended()
            return
    report.aborted()


CHUNKS = Client(
    "aiohttp",
    "chunk",
    chunks,
    "aiohttp, content.iter_any() with an incremental UTF-8 decoder",
    keeps_connection=True,
)
LINES = Client(
    "aiohttp-lines", "line", lines, "aiohttp, async for line in content", keeps_connection=True
)
