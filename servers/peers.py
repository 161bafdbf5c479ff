"""Which connection a request came on, as the server sees it: the client's port, and
whether Nagle's algorithm is off on the server's socket. The keep-alive scenario's
evidence (``harness.kernel.scenarios``): the stream went on the connection of the
client's first request only if both came from one port.

A relay (``servers.relay``) serves the client itself, so it says what it saw in a header
of its calls to the fake upstream, where the stream's record is kept.

A relay also paces a stream its client has left (the abort scenario, "let run"): it says
so in a header of its call (``PULL_HEADER``); once the client has left, the upstream sends
a comment line (``PACED``) before the next token, and from then on gives a token only when
the relay asks for it (``WANT_PATH``) — when its own response waits for it, so that what
the model produces is what the relay's response pulled, as in a variant server's own
response, and not what the TCP buffer between them could take.
"""

from __future__ import annotations

import socket
from typing import Any

from starlette.requests import Request

__all__ = [
    "PACED",
    "PEER_HEADER",
    "PULL_HEADER",
    "WANT_PATH",
    "connection",
    "nodelay",
    "relayed",
    "says",
]

#: A relay's word on its client's connection: ``<port> <TCP_NODELAY: 1, 0 or ?>``.
PEER_HEADER = "x-streamcompat-peer"
#: A relay that asks for each token once its client has left: ``1``.
PULL_HEADER = "x-streamcompat-pull"
#: The upstream's SSE comment (an SDK skips it): the client left; ask for each token now.
PACED = ": streamcompat: the client left; ask for each token"
#: Where a relay asks (``?stream=<id>&k=<token>``), under the upstream's base URL too.
WANT_PATH = "/_sc/want"

Peer = tuple[int, "bool | None"]


def connection(request: Request) -> Peer:
    """The client's port and TCP_NODELAY on this server's socket, as this server sees them."""
    return (request.client.port if request.client else 0), nodelay(request.receive)


def nodelay(receive: Any) -> bool | None:
    """TCP_NODELAY on the request's socket, where the server lets an app reach it: uvicorn's
    ``receive`` is a method of its request cycle, which holds the connection's transport.
    None under the other servers (the cell then says it is not known)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    extra = getattr(transport, "get_extra_info", None)
    sock = extra("socket") if callable(extra) else None
    if sock is None:
        return None
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except OSError:  # not TCP after all
        return None


def says(peer: Peer) -> str:
    """``peer`` as the header carries it."""
    port, on = peer
    return f"{port} {'?' if on is None else int(on)}"


def relayed(request: Request) -> Peer | None:
    """What a relay said of its client's connection, if it said anything readable."""
    port, _, on = request.headers.get(PEER_HEADER, "").partition(" ")
    if not port.isdigit():
        return None
    return int(port), {"1": True, "0": False}.get(on)
