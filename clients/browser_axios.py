"""axios in Chromium, as front ends call it: awaited with its default (XHR) adapter, with
``onDownloadProgress`` reading the growing text, and with ``adapter: 'fetch'`` and a stream.

axios is the pinned npm package (``clients.npm``); its own single-file ESM build is
imported into the page. The JS is ``browser_axios.js``, beside this file.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.clients import npm
from streamcompat.harness.hosts.browser import CHROMIUM_CONNECTIONS_PER_HOST
from streamcompat.harness.kernel.model import Client, Driver, Reporter, Request, Resources

HERE = Path(__file__).parent
AXIOS = Path("node", "node_modules", "axios", "dist", "esm", "axios.js")


def _driver(function: str) -> Driver:
    async def drive(request: Request, report: Reporter, resources: Resources) -> None:
        axios = npm.page_module(AXIOS, "axios")
        hub = await resources.browser_context()
        modules = {"Axios": axios}
        await hub.run(HERE / "browser_axios.js", function, request, report, modules=modules)

    return drive


def _client(name: str, function: str, description: str, unit_interval_s: float = 0.0) -> Client:
    return Client(
        name,
        "chunk",
        _driver(function),
        description,
        group="browser",
        engine="chromium",
        connections_per_origin=CHROMIUM_CONNECTIONS_PER_HOST,
        keeps_connection=True,  # the page fetches first (scripts.js); the server says if reused
        npm=True,
        unit_interval_s=unit_interval_s,
    )


AWAITED = _client(
    "browser-axios",
    "streamcompatAxiosAwaited",
    "axios in Chromium, default (XHR) adapter: `await axios.post(url, body)`, then r.data",
)
PROGRESS = _client(
    "browser-axios-progress",
    "streamcompatAxiosProgress",
    "axios in Chromium, default (XHR) adapter, onDownloadProgress showing the new responseText",
    unit_interval_s=1 / 3,  # axios calls onDownloadProgress at most 3 times a second
)
FETCH_ADAPTER = _client(
    "browser-axios-fetch",
    "streamcompatAxiosFetch",
    "axios in Chromium, adapter 'fetch', responseType 'stream', getReader + TextDecoder(stream)",
)
