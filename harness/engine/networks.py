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


#: A real proxy's per-token lag this much above direct's (p50, same cell) is told.
LAG_NOTE_MS = 50.0


def which_hop(results: Sequence[Result], expected: Mapping[str, str] | None = None) -> list[Result]:
    """``results`` with the cells of real proxies told apart: one whose verdict is worse
    than the same cell's on ``direct`` (this run's, else the baseline's) says so, and
    names the proxy's known fix where the proxy held bytes back; one as good, but whose
    tokens arrive much later than on direct (this run's), says that."""
    known = {v.value for v in Verdict}
    direct = {k: Verdict(v) for k, v in (expected or {}).items() if v in known}
    direct |= {r.cell.key: r.verdict for r in results if r.cell.network == REFERENCE}
    lags = {r.cell.key: r.lag_ms_p50 for r in results if r.cell.network == REFERENCE}
    return [_told(r, direct, lags) for r in results]


def _told(
    result: Result, direct: Mapping[str, Verdict], lags: Mapping[str, float | None]
) -> Result:
    record = network(result.cell.network)
    reference = replace(result.cell, network=REFERENCE).key
    before = direct.get(reference)
    if record.proxy is None or before is None:
        return result
    kind = proxies.PROXIES[record.proxy]
    if before.facts.rank < result.verdict.facts.rank:
        said = f"{REFERENCE}: {before.value}; {record.name} made it {result.verdict.value}"
        if result.verdict is Verdict.BUFFERED and kind.holds_back:
            said += f": {kind.holds_back}"
        return replace(result, detail=f"{result.detail} ({said})")
    lag, lag_before = result.lag_ms_p50, lags.get(reference)
    if lag is not None and lag_before is not None and lag - lag_before > LAG_NOTE_MS:
        said = f"lag p50 {lag:.0f} ms on {record.name}, {lag_before:.1f} ms on {REFERENCE}"
        if kind.delays:
            said += f": {kind.delays}"
        return replace(result, detail=f"{result.detail} ({said})")
    return result
