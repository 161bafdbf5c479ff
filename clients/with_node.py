"""Node clients: built-in ``fetch``, the ``eventsource`` package and ``axios``.

Each cell runs one ``node clients/node/<script>.mjs`` process in its own process group.
The script reads its config (JSON) from argv and writes its reports as JSON lines on
stdout, timestamped in epoch milliseconds (``performance.timeOrigin + performance.now()``).
Whatever way the cell ends, the process group is killed by PID and reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path

from harness.model import Client, ClientFailed, Reporter, Request, Resources
from harness.processes import kill
from harness.scripts import deliver, epoch_to_monotonic

NODE_DIR = Path(__file__).parent / "node"
INSTALL = "run `npm ci --prefix clients/node` to install the Node clients' packages"
LINE_LIMIT = 16 * 1024 * 1024  # one report line holds a whole unit (a token may be 67 KB+)
REAP_WINDOW = 2.0  # how long a killed node may take to be reaped


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ClientFailed("node is not installed")
    if not (NODE_DIR / "node_modules").is_dir():
        raise ClientFailed(f"{INSTALL} (clients/node/node_modules is missing)")
    return node


async def run_script(script: str, request: Request, report: Reporter) -> None:
    """Run ``clients/node/<script>`` for one cell; raise ClientFailed on its error."""
    config = {
        "url": request.url,
        "method": request.method,
        "body": request.body,
        "event": request.event,  # SSE clients: the token events' type and the end markers
        "endEvent": request.end_event,
        "endData": request.end_data,
    }
    process = await asyncio.create_subprocess_exec(
        _node(), str(NODE_DIR / script), json.dumps(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    stderr = asyncio.ensure_future(process.stderr.read())  # drained, so node never blocks on it
    offset = epoch_to_monotonic()
    try:
        while True:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), request.read_timeout)
            except asyncio.TimeoutError:
                raise ClientFailed(f"node reported nothing for {request.read_timeout} s") from None
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                raise ClientFailed(f"node wrote a non-report line: {line[:80]!r}") from None
            if deliver(message, report, offset):
                return
        # stdout closed without an end or an error: node crashed; say why, from stderr.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(stderr), REAP_WINDOW)
        lines = stderr.result().decode(errors="replace").splitlines() if stderr.done() else []
        # Node prints the source line first and its version last; the error is between.
        why = next((s.strip() for s in lines if "Error" in s), "no error on stderr")
        raise ClientFailed(f"node ended without reporting an end: {why}")
    finally:
        await kill(process, REAP_WINDOW)
        stderr.cancel()


async def fetch(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("fetch.mjs", request, report)


async def eventsource(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("eventsource.mjs", request, report)


async def axios(request: Request, report: Reporter, resources: Resources) -> None:
    await run_script("axios.mjs", request, report)


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
