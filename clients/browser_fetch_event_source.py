"""``@microsoft/fetch-event-source`` in Chromium: the POST-capable SSE client LLM front
ends use, ``onmessage`` shown, closed on the end marker, ``openWhenHidden`` set.

The package ships an ES module build of three files importing each other without file
extensions, which a page cannot load as they are: ``npm ci`` bundles it into one module
with the pinned esbuild (``clients/node/package.json``, its ``postinstall``). The JS is
``browser_fetch_event_source.js``, beside this file.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.clients import npm
from streamcompat.harness.hosts.browser import CHROMIUM_CONNECTIONS_PER_HOST
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources

HERE = Path(__file__).parent
BUNDLE = Path("node", "node_modules", ".bundles", "fetch-event-source.js")


async def fetch_event_source(request: Request, report: Reporter, resources: Resources) -> None:
    bundle = npm.page_module(BUNDLE, "@microsoft/fetch-event-source")
    hub = await resources.browser_context()
    await hub.run(
        HERE / "browser_fetch_event_source.js",
        "streamcompatFetchEventSource",
        request,
        report,
        modules={"FetchEventSource": bundle},
    )


FETCH_EVENT_SOURCE = Client(
    "browser-fetch-event-source",
    "event",
    fetch_event_source,
    "Chromium @microsoft/fetch-event-source (POST or GET), onmessage, openWhenHidden, "
    "closed on the end marker",
    group="browser",
    engine="chromium",
    connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
    keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
    npm=True,
)
