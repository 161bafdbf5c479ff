"""Node clients: built-in ``fetch``, the ``eventsource`` package and ``axios``.

Each cell runs in the run's one Node host (``harness/node_host.py``), as browser cells
run in pages. ``fetch`` and EventSource run the browser clients' own lines
(``fetch.js``, ``eventsource.js``; in Node, EventSource is the ``eventsource`` package);
axios is ``node/axios.mjs``. The npm packages are installed in ``clients/node``.
"""

from __future__ import annotations

from pathlib import Path

from streamcompat.harness.model import Client, ClientFailed, Reporter, Request, Resources

HERE = Path(__file__).parent
NODE_DIR = HERE / "node"
INSTALL = "run `npm ci --prefix clients/node` to install the Node clients' packages"


async def run_script(
    script: Path, function: str, request: Request, report: Reporter, resources: Resources
) -> None:
    """Run ``globalThis[function]`` from ``script`` for one cell in the Node host."""
    if script.parent == NODE_DIR and not (NODE_DIR / "node_modules").is_dir():
        raise ClientFailed(f"{INSTALL} (clients/node/node_modules is missing)")
    hub = await resources.node_host()
    await hub.run(script, function, request, report)


async def fetch(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script(HERE / "fetch.js", "streamcompatFetch", request, report, resources)


async def eventsource(request: Request, report: Reporter, resources: Resources) -> None:
    script = NODE_DIR / "eventsource.mjs"
    await run_script(script, "streamcompatEventSource", request, report, resources)


async def axios(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script(NODE_DIR / "axios.mjs", "streamcompatAxios", request, report, resources)


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
)
AXIOS = Client(
    "axios",
    "chunk",
    axios,
    "axios in Node, responseType 'stream', data events + TextDecoder(stream)",
    group="node",
    requires=("node",),
)
