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
environment), ``{app}`` the relay's import path for the server's interface (WSGI servers
run ``servers.relay_wsgi``, which serves the variants that run under WSGI), ``{host}`` and
``{port}`` where it listens (127.0.0.1, a free port); a server with ``listens="fd"``
serves on the harness's own listening socket, handed over as ``--fd N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streamcompat.harness.kernel.model import DEFAULT_SERVER, Verdict

__all__ = ["DEFAULT_SERVER", "RELAY_APPS", "SERVERS", "Pitfall", "Server", "server"]

#: What a server speaks to the app: ASGI (async) or WSGI (sync, a thread or greenlet each).
Interface = Literal["asgi", "wsgi"]

#: The relay app each interface's servers import (``{app}``).
RELAY_APPS: dict[Interface, str] = {
    "asgi": "streamcompat.servers.relay:app",
    "wsgi": "streamcompat.servers.relay_wsgi:app",
}


@dataclass(frozen=True)
class Pitfall:
    """A server's known pitfall, with its source, and the cells whose verdict it may
    explain: those of ``verdicts`` (none named: any verdict that is not its scenario's
    pass) in ``scenarios`` (none named: any). Said in such a cell's detail; never judged."""

    said: str
    verdicts: frozenset[str] = frozenset()
    scenarios: frozenset[str] = frozenset()

    def explains(self, verdict: Verdict, scenario: str) -> bool:
        if self.scenarios and scenario not in self.scenarios:
            return False
        return verdict.value in self.verdicts if self.verdicts else not verdict.passed


def pitfall(said: str, verdicts: str = "", scenarios: str = "") -> Pitfall:
    """``Pitfall(said, ...)`` with its verdicts and scenarios as comma-separated words."""
    return Pitfall(said, frozenset(filter(None, verdicts.split(","))),
                   frozenset(filter(None, scenarios.split(","))))  # fmt: skip


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
    #: What its users report (or was measured here), each with its source: the docs'
    #: list, and the detail of its cells whose verdict it may explain (``Pitfall``; a
    #: plain sentence: any cell that did not do what its scenario asks).
    pitfalls: tuple[str | Pitfall, ...] = ()
    #: How many processes it runs once it serves, at least (a master and its workers, as
    #: measured): the clean-up tests check that they were all there, and all ended.
    processes: int = 1
    #: The cells a run sends it at once, where it serves few requests at once (a sync
    #: worker per request), as a browser sends an origin no more than its connections.
    at_once: int | None = None

    @property
    def known(self) -> list[str]:
        """Its known pitfalls, as said (a cell card lists them all)."""
        return [p if isinstance(p, str) else p.said for p in self.pitfalls]

    def explaining(self, verdict: Verdict, scenario: str) -> list[str]:
        """Its known pitfalls that may explain a cell's ``verdict`` in ``scenario``."""
        known = (p if isinstance(p, Pitfall) else Pitfall(p) for p in self.pitfalls)
        return [p.said for p in known if p.explains(verdict, scenario)]

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


NAGLE = pitfall(
    "Kludex/uvicorn#3149: with --workers (and gunicorn's uvicorn worker) Nagle's algorithm "
    "stays on, ~43 ms per small write on a keep-alive connection",
    verdicts="BUFFERED",
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
                pitfall(
                    "uvicorn's --fd socket is AF_UNIX to asyncio: no TCP_NODELAY; on a reused "
                    "connection Nagle's algorithm holds token 1 ~40 ms (measured: --scenario "
                    "keep-alive, docs/scenarios.md)",
                    verdicts="BUFFERED",
                ),
            ),
        ),
        Server(
            "gunicorn-uvicorn",
            "gunicorn -k uvicorn.workers.UvicornWorker -w 2: gunicorn's supervisor, "
            "uvicorn's workers",
            ("{python}", "-m", "gunicorn", "{app}", "-k", "uvicorn.workers.UvicornWorker",
             "-w", "2", "-b", "{host}:{port}", "--no-control-socket"),
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
                pitfall(
                    "pgjones/hypercorn#59: app_send ignored a client's disconnect, so a "
                    "streaming app was never told its client had left",
                    verdicts="LEAK",
                    scenarios="abort",
                ),
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
                pitfall(
                    "emmett-framework/granian#286: no cleanup ran when the client cancelled "
                    "the request",
                    verdicts="LEAK",
                    scenarios="abort",
                ),
                pitfall(
                    "emmett-framework/granian#917: an HTTP/2 stream's cancel is not passed "
                    "on to the app",
                    verdicts="LEAK",
                    scenarios="abort",
                ),
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
            pitfalls=(
                pitfall(
                    "django/daphne#413: in some versions a streamed response was not "
                    "streamed at all",
                    verdicts="BUFFERED,SILENT",
                    scenarios="stream",
                ),
                pitfall(
                    "daphne 4.2.3's handle_exception (daphne/http_protocol.py) answers an "
                    "app's exception with a 500 response start, refused once the response "
                    "has started: a stream whose app raised is never ended nor aborted "
                    "(measured: compat-servers-scenarios-baseline.json)",
                    verdicts="TIMEOUT",
                    scenarios="error,error-first",
                ),
            ),
        ),
        Server(
            "gunicorn",
            "gunicorn -w 4, its default sync worker (WSGI): four processes, one request at "
            "a time each, no keep-alive; the app loaded before they fork (--preload)",
            ("{python}", "-m", "gunicorn", "{app}", "-w", "4", "-b", "{host}:{port}",
             "--preload", "--no-control-socket"),
            interface="wsgi",
            at_once=3,  # one short of its workers: a page's own request may hold one
            processes=2,  # the master and a worker: it serves once one of its 4 has forked
            modules=("gunicorn",),
            pins=("gunicorn==27.0.1",),
            docs="https://flask.palletsprojects.com/en/stable/deploying/gunicorn/",
            pitfalls=(
                pitfall(
                    "gunicorn's docs (Design, choosing a worker type): streaming responses "
                    "and long blocking calls (an LLM's API) want an async worker; under the "
                    "sync worker a stream holds its worker and the next requests queue "
                    "behind it (https://docs.gunicorn.org/en/stable/design.html)",
                    verdicts="BUFFERED,TIMEOUT,ERROR",
                ),
                pitfall(
                    "the sync worker answers every request with Connection: close, and a "
                    "stream it breaks off (a failed chain) closes without its last chunk; "
                    "Node 20's fetch (undici 6.24) takes a closing connection's end for the "
                    "body's end even so, and shows the cut-off stream as whole "
                    "(nodejs/undici#5273; backported to undici 6.x and 7.x in May 2026)",
                    verdicts="TRUNCATED",
                    scenarios="error",
                ),
            ),
        ),
        Server(
            "gunicorn-gevent",
            "gunicorn -k gevent (WSGI): one process, a greenlet per request, its sockets "
            "patched by gevent",
            ("{python}", "-m", "gunicorn", "{app}", "-k", "gevent", "-b", "{host}:{port}",
             "--no-control-socket"),
            interface="wsgi",
            processes=2,  # the master and its worker
            modules=("gunicorn", "gevent"),
            pins=("gunicorn==27.0.1", "gevent==26.9.0"),
            docs="https://flask.palletsprojects.com/en/stable/deploying/gunicorn/",
            pitfalls=(
                "benoitc/gunicorn#2936: a Flask stream under the gevent worker arrived "
                "whole at the end (the maintainer: a generator must go back to gevent's "
                "loop between yields)",
            ),
        ),
    )
}  # fmt: skip


def server(name: str) -> Server:
    """The server of ``name``; KeyError if there is none."""
    return SERVERS[name]
