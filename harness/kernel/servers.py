"""The servers a variant runs under, as data: how each starts, what its docs say, and what
its users have reported of it.

``uvicorn`` is the variant server itself (one process, on the harness's socket, beside its
control channel); its cells' keys name no server. Every other server runs the built-in
relay app (``servers.relay``) as a process of its own, started by its own command line the
way its docs show, and the relay asks the gated fake upstream for its tokens (app mode's
way: ``engine.app``): lockstep then proves delivery through that server, whatever its
processes. Adding a server is one entry here (and its pin in pyproject.toml's ``servers``
extra); nothing else names servers.

A command's ``{python}`` is the harness's own interpreter (the server from the same
environment), ``{app}`` the relay's import path for the server's interface, ``{host}`` and
``{port}`` where it listens (127.0.0.1, a free port); a server with ``listens="fd"``
serves on the harness's own listening socket, handed over as ``--fd N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streamcompat.harness.kernel.model import DEFAULT_SERVER

__all__ = ["DEFAULT_SERVER", "RELAY_APPS", "SERVERS", "Server", "server"]

#: What a server speaks to the app: ASGI (async) or WSGI (sync, a thread or greenlet each).
Interface = Literal["asgi", "wsgi"]

#: The relay app each interface's servers import (``{app}``).
RELAY_APPS: dict[Interface, str] = {
    "asgi": "streamcompat.servers.relay:app",
    "wsgi": "streamcompat.servers.relay_wsgi:app",
}


@dataclass(frozen=True)
class Server:
    name: str
    description: str  # one sentence (``streamcompat list``)
    #: Its command line, placeholders as above; () for the variant server itself.
    command: tuple[str, ...] = ()
    interface: Interface = "asgi"
    #: Python modules it needs (from pyproject's ``servers`` extra): without them its cells
    #: are skipped, with a notice.
    modules: tuple[str, ...] = ()
    #: The distributions it is measured at, as pinned in the ``servers`` extra.
    pins: tuple[str, ...] = ()
    #: "port": it binds {host}:{port} itself; "fd": it serves on the harness's socket.
    listens: Literal["port", "fd"] = "port"
    docs: str = ""  # where its command line comes from
    #: What its users report, each with its source: the docs' list, and its cells' detail.
    pitfalls: tuple[str, ...] = ()
    #: How many processes it runs once it serves, at least (a master and its workers, as
    #: measured): the clean-up tests check that they were all there, and all ended.
    processes: int = 1

    @property
    def embedded(self) -> bool:
        """The variant server itself (no process of its own)."""
        return not self.command

    def argv(self, python: str, port: int | str) -> list[str]:
        """The command line, filled in (``port``: a number, or a placeholder kept)."""
        fields = {
            "{python}": python,
            "{app}": RELAY_APPS[self.interface],
            "{host}": "127.0.0.1",
            "{port}": str(port),
        }
        filled = []
        for arg in self.command:
            for name, value in fields.items():
                arg = arg.replace(name, value)
            filled.append(arg)
        return filled


NAGLE = (
    "Kludex/uvicorn#3149: with --workers (and gunicorn's uvicorn worker) Nagle's algorithm "
    "stays on, ~43 ms per small write on a keep-alive connection"
)

SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server(
            DEFAULT_SERVER,
            "uvicorn, one process: the variant server itself, on the harness's socket "
            "(TCP_NODELAY set); its cells' keys name no server",
            pins=("uvicorn",),
            docs="https://www.uvicorn.org/settings/",
        ),
        Server(
            "uvicorn-workers",
            "uvicorn --workers 2: a supervisor and two worker processes on one socket",
            ("{python}", "-m", "uvicorn", "{app}", "--host", "{host}", "--port", "{port}",
             "--workers", "2", "--no-access-log"),
            modules=("uvicorn",),
            pins=("uvicorn",),
            docs="https://www.uvicorn.org/deployment/#built-in",
            pitfalls=(NAGLE,),
            processes=3,
        ),
        Server(
            "uvicorn-fd",
            "uvicorn --fd N: serving a socket it was handed (systemd's socket activation); "
            "asyncio takes an --fd socket for AF_UNIX and sets no TCP_NODELAY",
            ("{python}", "-m", "uvicorn", "{app}", "--no-access-log"),
            modules=("uvicorn",),
            pins=("uvicorn",),
            listens="fd",
            docs="https://www.uvicorn.org/deployment/#running-behind-nginx",
            pitfalls=(
                "uvicorn's --fd socket is AF_UNIX to asyncio: no TCP_NODELAY, Nagle's "
                "algorithm adds ~40 ms to a small write (measured: DESIGN.md)",
            ),
        ),
        Server(
            "gunicorn-uvicorn",
            "gunicorn -k uvicorn.workers.UvicornWorker -w 2: gunicorn's supervisor, "
            "uvicorn's workers",
            ("{python}", "-m", "gunicorn", "{app}", "-k", "uvicorn.workers.UvicornWorker",
             "-w", "2", "-b", "{host}:{port}"),
            modules=("gunicorn", "uvicorn"),
            pins=("gunicorn==27.0.1", "uvicorn"),
            docs="https://www.uvicorn.org/deployment/#gunicorn",
            pitfalls=(NAGLE,),
            processes=3,
        ),
        Server(
            "hypercorn",
            "hypercorn: a supervisor and one worker process (asyncio)",
            ("{python}", "-m", "hypercorn", "{app}", "--bind", "{host}:{port}"),
            modules=("hypercorn",),
            pins=("hypercorn==0.18.0",),
            docs="https://hypercorn.readthedocs.io/en/latest/how_to_guides/configuring.html",
            pitfalls=(
                "pgjones/hypercorn#59: app_send ignored a client's disconnect, so a "
                "streaming app was never told its client had left",
            ),
            processes=2,
        ),
        Server(
            "granian",
            "granian --interface asgi: a Rust HTTP server, a supervisor and one worker process",
            ("{python}", "-m", "granian", "--interface", "asgi", "--host", "{host}",
             "--port", "{port}", "--no-ws", "{app}"),
            modules=("granian",),
            pins=("granian==2.8.9",),
            docs="https://github.com/emmett-framework/granian#quick-start",
            pitfalls=(
                "emmett-framework/granian#286: no cleanup ran when the client cancelled "
                "the request",
                "emmett-framework/granian#917: an HTTP/2 stream's cancel is not passed on "
                "to the app",
            ),
            processes=2,
        ),
        Server(
            "daphne",
            "daphne: Django Channels' ASGI server, on Twisted",
            ("{python}", "-m", "daphne", "-b", "{host}", "-p", "{port}", "{app}"),
            modules=("daphne",),
            pins=("daphne==4.2.3",),
            docs="https://github.com/django/daphne#running",
            pitfalls=("django/daphne#413: in some versions a streamed response was not "
                      "streamed at all",),
        ),
    )
}  # fmt: skip


def server(name: str) -> Server:
    """The server of ``name``; KeyError if there is none."""
    return SERVERS[name]
