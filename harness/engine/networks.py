"""How each kind of network's origin is made: the table the runner and the differential
read (``ORIGINS``, by ``Network.origin``), so that no code branches on a network's name.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from streamcompat.harness.hosts.processes import end, loopback_listener, spawn
from streamcompat.harness.kernel.networks import NETWORKS, Network

__all__ = ["ORIGINS", "Listening", "network_origin"]


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


ORIGINS: dict[str, Callable[[Network, Listening], AbstractAsyncContextManager[str]]] = {
    "server": _server,
    "shaper": _shaper,
}


def network_origin(network: str, server: Listening) -> AbstractAsyncContextManager[str]:
    """The origin clients use on ``network``, for as long as the context lasts."""
    record = NETWORKS[network]
    return ORIGINS[record.origin](record, server)
