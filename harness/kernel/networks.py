"""The networks: what sits between a server and its clients, as data.

Variants and clients are records; so are networks. A network names how its origin is
made (``origin``: the server itself, or a shaping proxy of the harness's own) and, for a
shaper, which one (``engine.proxy.SHAPERS``). Adding a simulated network is one entry
here and its shaper there; nothing else names networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_NETWORKS", "NETWORKS", "Network"]

#: How a network's origin is made (``engine.networks.ORIGINS``).
Origin = Literal["server", "shaper"]


@dataclass(frozen=True)
class Network:
    name: str
    description: str  # what it does to the server's bytes, one sentence (``list``)
    origin: Origin = "shaper"
    #: The spec differential's replays send one HTTP chunk per byte on this network, so
    #: that even clients on top of HTTP chunking meet its cuts.
    byte_chunks: bool = False

    @property
    def between(self) -> bool:
        """Something other than the server writes the bytes the client reads."""
        return self.origin != "server"


NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network(
            "direct",
            "The client talks to the server itself: nothing between them on loopback.",
            origin="server",
        ),
        Network(
            "split",
            "Cuts each server write where parsers break, each piece its own drained write: "
            "inside every UTF-8 sequence, between CR and LF, inside SSE field names and after "
            "the colon, after every line end; past 512 bytes of one write, 509-byte pieces.",
            byte_chunks=True,
        ),
        Network(
            "coalesce",
            "Joins up to 3 server reads into one write, flushing early when "
            "the server is quiet for 50 ms or ends.",
        ),
        Network(
            "buffer-16k",
            "Holds server bytes until 16 KiB accumulate or the server ends, "
            "like nginx proxy buffering, unless the response says X-Accel-Buffering: no.",
        ),
    )
}
DEFAULT_NETWORKS = ("direct", "split")
