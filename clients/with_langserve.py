"""langserve's client: ``RemoteRunnable(url).astream(input)``, read with ``async for``.

It posts ``{"input": ..., "config": ..., "kwargs": ...}`` to ``{url}/stream`` and reads
langserve's own events: ``data`` (a chunk, JSON, decoded by langserve's serializer),
``metadata`` (skipped), ``error`` (raised), ``end`` (the end). So it reads the
``langserve`` codec only. The stream id and the prompt go in the chain's input, where an
app's own fields go. langserve is an extra (``streamcompat[langserve]``): it needs
langchain-core, which an app under test pins itself.

The driver surfaces each chunk as JSON, which the ``langserve`` codec reads back: a chunk
that is not a string (the chain's output parsed as something else) shows as not text.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx

from streamcompat.clients import trust
from streamcompat.harness.kernel.model import Client, Reporter, Request, Resources


async def chunks(request: Request, report: Reporter, resources: Resources) -> None:
    from langserve import RemoteRunnable  # an extra: the app under test may pin its own

    async def opened(response: httpx.Response) -> None:  # httpx's hook: the response head
        report.spoke(trust.alpn(response.http_version))
        report.opened(response.status_code, response.headers.get("content-type", ""))

    chain_input = {
        "prompt": str(request.body.get("prompt", "")),
        "stream": str(request.body.get("stream", request.cell_id)),
    }
    runnable: RemoteRunnable[dict[str, str], Any] = RemoteRunnable(
        request.url.partition("?")[0],
        # langserve's own default is no timeout at all; else a bound on each read.
        timeout=None if request.library_timeouts else request.read_timeout,
        verify=trust.context(request.ca_file, "langserve"),
        client_kwargs={"event_hooks": {"response": [opened]}},
    )
    try:
        report.requesting()
        # astream is an async generator (typed as an iterator): closed, it closes the response.
        output = cast("AsyncGenerator[Any, None]", runnable.astream(chain_input))
        async with contextlib.aclosing(output) as stream:
            async for chunk in stream:
                if report.stopping():
                    break  # the user's stop: closing the stream closes the response
                report.surfaced(json.dumps(chunk, ensure_ascii=False))
            else:
                report.ended()
                return
        report.aborted()
    finally:
        await runnable.async_client.aclose()  # (else closed when the runnable is collected)
        runnable.sync_client.close()
        detach_finalizers(runnable)


def detach_finalizers(obj: object) -> None:
    """Detach the weakref finalizers of ``obj``, whose work was done here.

    langserve closes a runnable's clients from a finalizer that waits on a thread pool.
    Run by the garbage collector while this thread is inside another pool's ``submit``, it
    deadlocks on concurrent.futures' global lock (a test run hung there: py-spy showed
    ``_close_clients`` under ``ThreadPoolExecutor.submit``). Its clients are closed above.
    """
    registry = getattr(weakref.finalize, "_registry", {})  # the module's own record
    for finalizer, info in list(registry.items()):
        if info.weakref() is obj:
            finalizer.detach()


CLIENT = Client(
    "langserve",
    "event",
    chunks,
    "langserve RemoteRunnable(url).astream(input), async for",
    frozenset({"POST"}),
    group="python",
    codecs=frozenset({"langserve"}),
    modules=("langserve",),
)
