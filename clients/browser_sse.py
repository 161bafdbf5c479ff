"""Browser SSE client in Chromium: ``fetch`` + ``eventsource-parser``, the SSE parser
LLM front-ends (the Vercel AI SDK among them) ship.

The parser is the pinned npm package (``clients.npm``); its single-file ESM build is
imported into the page from the harness, and the streaming URL is not routed.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.clients import npm
from streamcompat.harness.hosts.browser import CHROMIUM_CONNECTIONS_PER_HOST
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources

HERE = Path(__file__).parent
PARSER = Path("node", "node_modules", "eventsource-parser", "dist", "index.js")


async def fetch_sse(request: Request, report: Reporter, resources: Resources) -> None:
    parser = npm.page_module(PARSER, "eventsource-parser")
    hub = await resources.browser_context()
    await hub.run(
        HERE / "browser_fetch_sse.js",
        "streamcompatFetchSse",
        request,
        report,
        modules={"EventSourceParser": parser},
    )


BROWSER_FETCH_SSE = Client(
    "browser-fetch-sse",
    "event",
    fetch_sse,
    "Chromium fetch() (POST) + eventsource-parser createParser, fed by TextDecoder(stream)",
    group="browser",
    engine="chromium",
    connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
    keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
    npm=True,
)
