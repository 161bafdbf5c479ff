"""The clients: one driver per real client library, all of the same shape.

A driver makes the request the way that library's users do, and reports to the
harness every unit its user would display (``Reporter.surfaced``), as it happens.
Each driver module declares its ``Client`` entries; this table is the matrix's columns.
"""

from __future__ import annotations

from streamcompat.clients import (
    browser,
    browser_axios,
    browser_fetch_event_source,
    browser_sse,
    engines,
    with_aiohttp,
    with_curl,
    with_httpx,
    with_langserve,
    with_node,
    with_node_sdks,
    with_openai,
    with_requests,
    with_sseclient,
)
from streamcompat.harness.kernel.model import Client

#: The browser clients, in Chromium (``browser-*``); each has a column per engine.
BROWSER_CLIENTS: tuple[Client, ...] = (
    browser.FETCH,
    browser.EVENTSOURCE,
    browser_sse.BROWSER_FETCH_SSE,
    browser.XHR,
    browser_axios.AWAITED,
    browser_axios.PROGRESS,
    browser_axios.FETCH_ADAPTER,
    browser_fetch_event_source.FETCH_EVENT_SOURCE,
)
#: Firefox's columns (``firefox-*``): run by name, or all with ``--clients firefox``.
FIREFOX_CLIENTS = tuple(engines.in_engine(c, "firefox") for c in BROWSER_CLIENTS)
#: WebKit's columns (``webkit-*``, WebKitGTK): by name, or all with ``--clients webkit``.
WEBKIT_CLIENTS = tuple(engines.in_engine(c, "webkit") for c in BROWSER_CLIENTS)

CLIENTS: tuple[Client, ...] = (
    with_requests.CHUNKS,
    with_requests.LINES,
    with_aiohttp.CHUNKS,
    with_aiohttp.LINES,
    browser.FETCH,
    browser.EVENTSOURCE,
    with_httpx.CLIENT,
    with_httpx.H2_CLIENT,
    with_httpx.SSE_CLIENT,
    with_sseclient.CLIENT,
    with_openai.CLIENT,
    browser_sse.BROWSER_FETCH_SSE,
    with_node.NODE_FETCH,
    with_node.NODE_EVENTSOURCE,
    with_node.AXIOS,
    with_curl.CLIENT,
    browser.XHR,
    browser_axios.AWAITED,
    browser_axios.PROGRESS,
    browser_axios.FETCH_ADAPTER,
    browser_fetch_event_source.FETCH_EVENT_SOURCE,
    with_curl.H2_CLIENT,
    with_node_sdks.OPENAI_NODE,
    with_node_sdks.AI_TEXT,
    with_node_sdks.AI_UI,
    with_langserve.CLIENT,
    *FIREFOX_CLIENTS,
    *WEBKIT_CLIENTS,
)
