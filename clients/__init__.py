"""The clients: one driver per real client library, all of the same shape.

A driver makes the request the way that library's users do, and reports to the
harness every unit its user would display (``Reporter.surfaced``), as it happens.
"""

from __future__ import annotations

from clients import browser, with_aiohttp, with_requests
from harness.model import Client

GET_ONLY = frozenset({"GET"})

CLIENTS: tuple[Client, ...] = (
    Client(
        "requests",
        "chunk",
        with_requests.chunks,
        "requests, iter_content(chunk_size=None, decode_unicode=True)",
    ),
    Client("requests-lines", "line", with_requests.lines, "requests, iter_lines()"),
    Client(
        "aiohttp",
        "chunk",
        with_aiohttp.chunks,
        "aiohttp, content.iter_any() with an incremental UTF-8 decoder",
    ),
    Client("aiohttp-lines", "line", with_aiohttp.lines, "aiohttp, async for line in content"),
    Client(
        "browser-fetch",
        "chunk",
        browser.fetch,
        "Chromium fetch() + body.getReader() + TextDecoder(stream)",
        group="browser",
    ),
    Client(
        "browser-eventsource",
        "event",
        browser.eventsource,
        "Chromium native EventSource, closed on the end event",
        GET_ONLY,
        group="browser",
    ),
)
