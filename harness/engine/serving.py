"""The servers a run's variants run under (``kernel.servers``), each started as its docs
show: the relay app (``servers.relay``) under the server's own command line, pointed at
the variant server as its fake upstream. App mode's machinery (``engine.app``) runs it:
started again if it dies, ended by its process group (a supervisor's workers with it).
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from streamcompat.harness.engine.app import App, AppProcess
from streamcompat.harness.hosts.processes import Together
from streamcompat.harness.kernel.servers import Server, server

__all__ = ["relay_app", "start_servers"]

#: A server's start: its imports (starlette, httpx, the variants) in each worker, on a
#: loaded machine.
RELAY_START_S = 60.0


def relay_app(record: Server, specs: Sequence[str], logs: Path) -> App:
    """The relay under ``record``'s command, serving the variants of ``specs``."""
    return App(
        command=shlex.join(record.argv(sys.executable, "{port}")),
        endpoint="POST /v/relay",  # unused: a relay's cells ask for their variant's path
        name=record.name,
        start_timeout=RELAY_START_S,
        log=logs / f"server-{record.name}.log",
        relay=True,
        ready="/_sc/health",
        fd=record.listens == "fd",
        env=(("STREAMCOMPAT_VARIANTS", ",".join(specs)),),
    )


async def start_servers(
    names: Sequence[str], specs: Sequence[str], upstream: str, logs: Path, ends: Together
) -> dict[str, AppProcess]:
    """Each server of ``names`` that is not the variant server itself, started at once
    (their imports overlap), each ended with ``ends``; an error if one cannot start
    (the others are ended too, with ``ends``)."""
    records = [server(n) for n in names if not server(n).embedded]
    started = await asyncio.gather(
        *(ends.enter(AppProcess(relay_app(r, specs, logs), upstream)) for r in records),
        return_exceptions=True,
    )
    for outcome in started:
        if isinstance(outcome, BaseException):
            raise outcome
    return {r.name: s for r, s in zip(records, started, strict=True) if isinstance(s, AppProcess)}
