"""Node clients: built-in ``fetch``, the ``eventsource`` package and ``axios``.

Each cell runs in the run's one Node host (``harness/hosts/node_host.py``), as browser cells
run in pages. ``fetch`` and EventSource run the browser clients' own lines
(``fetch.js``, ``eventsource.js``; in Node, EventSource is the ``eventsource`` package);
axios is ``node/axios.mjs``. The npm packages: ``clients.npm``.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.clients import npm
from streamcompat.harness.kernel.model import Client, ClientFailed, Reporter, Request, Resources

HERE = Path(__file__).parent


async def run_script(
    script: str, function: str, request: Request, report: Reporter, resources: Resources
) -> None:
    """Run ``globalThis[function]`` from ``script`` (a path under the clients folder) for
    one cell in the Node host. Scripts that import npm packages run from the clients
    folder that has them (``clients.npm``)."""
    folder = HERE if script == "fetch.js" else npm.installed()
    if folder is None:
        raise ClientFailed(f"the npm packages are not installed: {npm.SETUP}")
    hub = await resources.node_host()
    await hub.run(folder / script, function, request, report)


async def fetch(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("fetch.js", "streamcompatFetch", request, report, resources)


async def eventsource(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("node/eventsource.mjs", "streamcompatEventSource", request, report, resources)


async def axios(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("node/axios.mjs", "streamcompatAxios", request, report, resources)


NODE_FETCH = Client(
    "node-fetch",
    "chunk",
    fetch,
    "Node built-in fetch() + body.getReader() + TextDecoder(stream)",
    group="node",
    requires=("node",),
)
NODE_EVENTSOURCE = Client(
    "node-eventsource",
    "event",
    eventsource,
    "the eventsource npm package in Node, onmessage, closed on the end event",
    frozenset({"GET"}),
    group="node",
    requires=("node",),
    npm=True,
)
AXIOS = Client(
    "axios",
    "chunk",
    axios,
    "axios in Node, responseType 'stream', data events + TextDecoder(stream)",
    group="node",
    requires=("node",),
    npm=True,
)
