"""What the variant server sent on a cell's stream: its head and its body writes.

A record of the kernel's data model (``kernel.model`` names them too), kept apart so that
each module stays small.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Write:
    """One body write of a stream's response, as the variant server handed it to the socket."""

    at: float  # monotonic: the server's clock is the harness's (one machine, CLOCK_MONOTONIC)
    data: bytes  # the write, or its first bytes when some were left out
    left_out: int = 0  # bytes after ``data`` not kept (a long write's middle, or past the bound)
    tail: bytes = b""  # a long write's last bytes


@dataclass(frozen=True)
class Wire:
    """What the variant server sent on a cell's stream: the head its app sent and the body
    writes, bounded per cell (``servers.control``). The server's side of the socket: on a
    shaping network the client received the same bytes, cut and timed by the proxy."""

    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    writes: tuple[Write, ...] = ()
    sent_bytes: int = 0  # every body byte sent, kept or not
    sent_writes: int = 0  # every body write that carried bytes, kept or not
    ended_at: float = 0.0  # the body's end went out (0: not before the cell ended)

    @property
    def truncated(self) -> bool:
        """Some bytes were sent but not kept."""
        return self.sent_bytes > sum(len(w.data) + len(w.tail) for w in self.writes)


@dataclass(frozen=True)
class Connection:
    """The connection one of a stream's requests came on, as the server saw it: the
    client's port, and whether Nagle's algorithm was off on the server's socket."""

    request: str  # "first" (the keep-alive scenario's short request) or "stream"
    port: int  # the client's port (its end of the TCP connection)
    #: TCP_NODELAY on the server's socket (None: the server does not let its app see it).
    nodelay: bool | None = None
