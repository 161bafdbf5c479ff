"""How each kind of network's origin is made: the table the runner and the differential
read (``ORIGINS``, by ``Network.origin``), so that no code branches on a network's name.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from streamcompat.harness.engine.server import ServerError
from streamcompat.harness.hosts import proxies
from streamcompat.harness.hosts.processes import end, loopback_listener, spawn
from streamcompat.harness.kernel.model import Result, Verdict
from streamcompat.harness.kernel.networks import REFERENCE, Network, network

__all__ = ["ORIGINS", "Listening", "network_origin", "which_hop"]


class Listening(Protocol):
    """What clients connect to: the variant server, or an app under test."""

    @property
    def origin(self) -> str: ...

    @property
    def port(self) -> int: ...


@contextlib.asynccontextmanager
async def _server(network: Network, server: Listening) -> AsyncIterator[str]:
    yield server.origin


@contextlib.asynccontextmanager
async def _shaper(network: Network, server: Listening) -> AsyncIterator[str]:
    """A shaping proxy in its own process, so that shaping never competes with the
    harness's loop, which paces cells and drives clients."""
    listener = loopback_listener()
    port = listener.getsockname()[1]
    command = [sys.executable, "-m", "streamcompat.harness.engine.proxy"]
    command += ["--network", network.name, "--upstream-port", str(server.port)]
    process = spawn(command, listener=listener)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await end(process)


@contextlib.asynccontextmanager
async def _proxy(network: Network, server: Listening) -> AsyncIterator[str]:
    """A real proxy (``hosts.proxies``) in front of the server; one that will not start on
    its config ends the run (ServerError: the proxy's complaint in one line)."""
    assert network.proxy is not None
    kind = proxies.PROXIES[network.proxy]
    config = Path(network.config) if network.config else None
    try:
        async with proxies.running(kind, server.port, config, network.preset) as origin:
            yield origin
    except proxies.ProxyError as exc:
        raise ServerError(f"network {network.name}: {exc}") from None


ORIGINS: dict[str, Callable[[Network, Listening], AbstractAsyncContextManager[str]]] = {
    "server": _server,
    "shaper": _shaper,
    "proxy": _proxy,
}


def network_origin(name: str, server: Listening) -> AbstractAsyncContextManager[str]:
    """The origin clients use on network ``name``, for as long as the context lasts."""
    record = network(name)
    return ORIGINS[record.origin](record, server)


def which_hop(results: Sequence[Result], expected: Mapping[str, str] | None = None) -> list[Result]:
    """``results`` with the cells of real proxies told apart: one whose verdict is worse
    than the same cell's on ``direct`` (this run's, else the baseline's) says so, and
    names the proxy's known fix where the proxy held bytes back."""
    known = {v.value for v in Verdict}
    direct = {k: Verdict(v) for k, v in (expected or {}).items() if v in known}
    direct |= {r.cell.key: r.verdict for r in results if r.cell.network == REFERENCE}
    told: list[Result] = []
    for result in results:
        record = network(result.cell.network)
        before = direct.get(replace(result.cell, network=REFERENCE).key)
        if record.proxy is None or before is None or before.facts.rank >= result.verdict.facts.rank:
            told.append(result)
            continue
        kind = proxies.PROXIES[record.proxy]
        said = f"{REFERENCE}: {before.value}; {record.name} made it {result.verdict.value}"
        if result.verdict is Verdict.BUFFERED and kind.holds_back:
            said += f": {kind.holds_back}"
        told.append(replace(result, detail=f"{result.detail} ({said})"))
    return told
