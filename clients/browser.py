"""Browser clients, in Chromium: ``fetch`` with a stream reader, native ``EventSource``,
and a bare ``XMLHttpRequest`` reading its growing ``responseText``.

The JS each one runs lives beside this file (the Node host runs the same ``fetch.js`` and
``eventsource.js``); the browser hub gives it a page.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.harness.hosts.browser import CHROMIUM_CONNECTIONS_PER_HOST
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources

HERE = Path(__file__).parent


async def fetch(request: Request, report: Reporter, resources: Resources) -> None:
    hub = await resources.browser_context()
    await hub.run(HERE / "fetch.js", "streamcompatFetch", request, report)


async def eventsource(request: Request, report: Reporter, resources: Resources) -> None:
    hub = await resources.browser_context()
    await hub.run(HERE / "eventsource.js", "streamcompatEventSource", request, report)


async def xhr(request: Request, report: Reporter, resources: Resources) -> None:
    hub = await resources.browser_context()
    await hub.run(HERE / "xhr.js", "streamcompatXhr", request, report)


FETCH = Client(
    "browser-fetch",
    "chunk",
    fetch,
    "Chromium fetch() + body.getReader() + TextDecoder(stream)",
    group="browser",
    engine="chromium",
    connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
    keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
)
EVENTSOURCE = Client(
    "browser-eventsource",
    "event",
    eventsource,
    "Chromium native EventSource, closed on the end marker",
    frozenset({"GET"}),
    group="browser",
    engine="chromium",
    connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
    keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
)
XHR = Client(
    "browser-xhr",
    "chunk",
    xhr,
    "Chromium XMLHttpRequest, onprogress showing what responseText has grown by",
    group="browser",
    engine="chromium",
    connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
    keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
)
