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
from streamcompat.harness.hosts.tls import Authority
from streamcompat.harness.kernel.model import Result, Verdict
from streamcompat.harness.kernel.networks import REFERENCE, Network, network

__all__ = ["ORIGINS", "Listening", "network_origin", "speaks_tls", "which_hop"]


class Listening(Protocol):
    """What clients connect to: the variant server, or an app under test."""

    @property
    def origin(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def tls_origin(self) -> str: ...  # "" where it serves no TLS itself


@contextlib.asynccontextmanager
async def _server(network: Network, server: Listening, tls: Authority | None) -> AsyncIterator[str]:
    if network.tls and not server.tls_origin:
        raise ServerError(
            f"network {network.name}: this server serves no TLS itself (an app does not); "
            "put a TLS proxy in front of it: --network nginx-h2 or caddy-h2"
        )
    yield server.tls_origin if network.tls else server.origin


@contextlib.asynccontextmanager
async def _shaper(network: Network, server: Listening, tls: Authority | None) -> AsyncIterator[str]:
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
async def _proxy(network: Network, server: Listening, tls: Authority | None) -> AsyncIterator[str]:
    """A real proxy (``hosts.proxies``) in front of the server; one that will not start on
    its config ends the run (ServerError: the proxy's complaint in one line). On a TLS
    network it presents the run's certificate (``tls``)."""
    assert network.proxy is not None
    kind = proxies.PROXIES[network.proxy]
    config = Path(network.config) if network.config else None
    wants_tls = speaks_tls(network)  # a user's file is read to tell
    if wants_tls and tls is None:
        raise ServerError(f"network {network.name}: speaks TLS, and the run made no certificate")
    certificate = tls if wants_tls else None
    running = proxies.running(kind, server.port, config, network.preset, certificate)
    try:
        async with running as origin:
            yield origin
    except proxies.ProxyError as exc:
        raise ServerError(f"network {network.name}: {exc}") from None


ORIGINS: dict[
    str, Callable[[Network, Listening, Authority | None], AbstractAsyncContextManager[str]]
] = {
    "server": _server,
    "shaper": _shaper,
    "proxy": _proxy,
}


def speaks_tls(network: Network) -> bool:
    """Clients reach ``network`` over TLS: its record says so, or it is a user's proxy
    config that presents the run's certificate (``@CERT@``)."""
    if network.tls:
        return True
    if network.config is None:
        return False
    try:
        return proxies.CERT in Path(network.config).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False  # unreadable: the proxy's start says why, in its own words


def network_origin(
    name: str, server: Listening, tls: Authority | None = None
) -> AbstractAsyncContextManager[str]:
    """The origin clients use on network ``name``, for as long as the context lasts; a TLS
    network's presents ``tls``, the run's certificate."""
    record = network(name)
    return ORIGINS[record.origin](record, server, tls)


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
