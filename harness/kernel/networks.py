"""The networks: what sits between a server and its clients, as data.

Variants and clients are records; so are networks. A network names how its origin is
made (``origin``: the server itself, a shaping proxy of the harness's own, or a real
proxy) and, for a shaper, which one (``engine.proxy.SHAPERS``), for a real proxy, which
kind (``hosts.proxies.PROXIES``) and whose config. Adding a network is one entry here and
its shaper or its proxy kind there; nothing else names networks.

A real proxy with a user's config is named ``KIND:FILE`` (``nginx:deploy/nginx.conf``):
``network`` makes its record from the kind's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["DEFAULT_NETWORKS", "NETWORKS", "NETWORK_GROUPS", "REFERENCE", "Network", "network"]

#: How a network's origin is made (``engine.networks.ORIGINS``).
Origin = Literal["server", "shaper", "proxy"]


@dataclass(frozen=True)
class Network:
    name: str
    description: str  # what it does to the server's bytes, one sentence (``list``)
    origin: Origin = "shaper"
    #: The spec differential's replays send one HTTP chunk per byte on this network, so
    #: that even clients on top of HTTP chunking meet its cuts.
    byte_chunks: bool = False
    proxy: str | None = None  # a real proxy: its kind (``hosts.proxies.PROXIES``)
    config: str | None = None  # a real proxy: the user's config file (None: the first one)
    preset: str = ""  # a real proxy: another first config of its kind's (``presets``)
    #: Added to the hold window on this network: what the hop delays each write by design,
    #: with margin, so that the cell keeps direct's slack for a busy machine.
    hold_extra_s: float = 0.0
    #: Clients reach it over TLS (``https://``), trusting the run's own CA
    #: (``hosts.tls``); a proxy then offers HTTP/2 by ALPN where its config says so.
    tls: bool = False

    @property
    def server_tls(self) -> bool:
        """The variant server itself answers over TLS (``direct-tls``)."""
        return self.tls and self.origin == "server"

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
        Network(
            "direct-tls",
            "The client talks to the variant server itself over TLS (the run's own CA; "
            "uvicorn's own TLS, HTTP/1.1 only): nothing between them.",
            origin="server",
            tls=True,
        ),
        Network(
            "nginx",
            "nginx (Debian's) with `proxy_pass` and its defaults: proxy buffering on, "
            "HTTP/1.0 to the upstream, no compression.",
            origin="proxy",
            proxy="nginx",
        ),
        Network(
            "nginx-gzip",
            "nginx as above with `gzip on` for the stream's content types (text/plain, "
            "text/event-stream, NDJSON, JSON).",
            origin="proxy",
            proxy="nginx",
            preset="gzip",
        ),
        Network(
            "caddy",
            "Caddy (Debian's) with `reverse_proxy` and its defaults.",
            origin="proxy",
            proxy="caddy",
        ),
        Network(
            "caddy-encode",
            "Caddy as above with `encode gzip`.",
            origin="proxy",
            proxy="caddy",
            preset="encode",
        ),
        Network(
            "haproxy",
            "HAProxy (Debian's) in HTTP mode with its default timeouts (50 s); it sends each "
            "write with MSG_MORE, so the kernel holds it for its retransmission timer (200 ms "
            "and more) unless `option http-no-delay`.",
            origin="proxy",
            proxy="haproxy",
            # MSG_MORE leaves each write to the kernel's probe timer: one RTO, 200 ms at
            # least. A connection's first RTO is 3x the kernel's cached RTT for the peer's
            # address (tcp_metrics), which on loopback every connection of the run feeds:
            # loaded `--network real` runs raised it to 2.0-2.6 s (`ip tcp_metrics`), a
            # first RTO of 6-7.9 s, and 15 token-1 cells went BUFFERED at 3.5 s. 16 s in
            # all is twice the worst seen; only a stall waits it out.
            hold_extra_s=15.0,
        ),
        Network(
            "nginx-h2",
            "nginx as above, terminating TLS (the run's own CA) with `listen ... ssl http2`: "
            "HTTP/2 by ALPN to the client, HTTP/1.0 to the upstream.",
            origin="proxy",
            proxy="nginx",
            preset="h2",
            tls=True,
        ),
        Network(
            "caddy-h2",
            "Caddy as above, terminating TLS (the run's own CA) on an https:// site: HTTP/2 "
            "by ALPN to the client (HTTP/3 off), HTTP/1.1 to the upstream.",
            origin="proxy",
            proxy="caddy",
            preset="h2",
            tls=True,
        ),
        Network(
            "apache",
            "Apache httpd (Debian's) with mod_proxy_http `ProxyPass` and its defaults "
            "(flushpackets off).",
            origin="proxy",
            proxy="apache",
        ),
        Network(
            "apache-deflate",
            "Apache as above with mod_deflate on the stream's content types.",
            origin="proxy",
            proxy="apache",
            preset="deflate",
        ),
    )
}
DEFAULT_NETWORKS = ("direct", "split")
#: Where nothing is between: what a cell on any other network is told apart from.
REFERENCE = next(n.name for n in NETWORKS.values() if n.origin == "server")
#: Names that stand for several networks in ``--network``.
NETWORK_GROUPS: dict[str, tuple[str, ...]] = {
    "real": tuple(n.name for n in NETWORKS.values() if n.origin == "proxy" and not n.tls),
    "tls": tuple(n.name for n in NETWORKS.values() if n.tls),
}


def network(name: str) -> Network:
    """The network called ``name``: an entry of NETWORKS, or ``KIND:FILE`` for a real proxy
    of that kind on the user's config; KeyError if it is neither."""
    if name in NETWORKS:
        return NETWORKS[name]
    kind, sep, config = name.partition(":")
    base = NETWORKS.get(kind)
    if not sep or not config or base is None or base.proxy != base.name:
        raise KeyError(name)  # a user's config is for a kind, not for one of its presets
    return replace(base, name=name, description=f"{base.proxy} with {config}", config=config)
