"""Server process control: start the variant server, talk to its control channel, restart it
when it dies, end it.

The harness binds the listening socket itself (127.0.0.1, ephemeral port) and hands
a copy of its file descriptor to uvicorn, so the port is known before the server starts
and nothing else can take it. The harness keeps its own copy: a server that dies is
restarted on the same socket, so origins and the proxies in front of it stay as they
are, and requests made meanwhile wait in its backlog instead of being refused. The
control channel is one end of a socket pair that only the harness and one server
process hold (JSON lines, opened with the run's secret; see ``servers.control``):
releasing a token is one small write, not an HTTP request. The channel closing is how
a death is noticed, at once. Each server process runs in its own process group and is
ended by PID, group first, whatever way the run ends; it also ends when the harness
closes its end of the channel.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial

import aiohttp

from streamcompat.harness.engine.server_life import ServerError, ServerLife
from streamcompat.harness.hosts.processes import (
    STOP_BOUND_S,
    Lifecycle,
    describe_exit,
    exited,
    log_summary,
    loopback_listener,
    spawn,
)
from streamcompat.harness.hosts.tls import Authority
from streamcompat.harness.kernel.server_record import ServerRecord

__all__ = ["START_BOUND_S", "ServerError", "ServerLife", "ServerProcess"]

START_BOUND_S = 30.0  # the server must answer its health check within this


class ServerProcess(Lifecycle):
    """``async with ServerProcess(["builtin"]) as server:`` — a running variant server.

    If a server process that was up dies, it is noticed at once (its control channel
    closes), and a new one is started on the same listening socket; ``running()`` returns
    the process to use, waiting for a restart under way. A restart that fails sets
    ``broken`` (``failure`` says why): the run cannot go on.
    """

    def __init__(
        self,
        variant_specs: Sequence[str],
        tokens: Sequence[str] | None = None,
        tls: Authority | None = None,
    ) -> None:
        self.variant_specs = list(variant_specs)
        self.tokens = list(tokens) if tokens is not None else None
        #: The run's certificate: the server then listens over TLS on a second socket too
        #: (``tls_origin``: the ``direct-tls`` network), kept like the first for restarts.
        self.tls = tls
        self.tls_port = 0
        self._tls_listener: socket.socket | None = None
        self.secret = secrets.token_urlsafe(24)
        self.port = 0
        self.life: ServerLife | None = None
        self.lives = 0  # server processes started: 1 + restarts
        self.broken = asyncio.Event()  # the server died and could not be restarted
        self.failure = ""
        self._listener: socket.socket | None = None  # the harness's copy, for restarts
        self._ready: asyncio.Future[ServerLife] | None = None  # the process cells should use
        self._restart: asyncio.Task[None] | None = None
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="streamcompat-")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_origin(self) -> str:
        """Where the server answers over TLS ("": it does not, no certificate was given)."""
        return f"https://127.0.0.1:{self.tls_port}" if self.tls_port else ""

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.life.process if self.life else None

    @property
    def pid(self) -> int | None:
        return self.life.pid if self.life else None

    def begin(self) -> None:
        """Start the server process now, and wait for it later (``start``): its imports
        (a second or two of CPU: fastapi, langchain) then overlap what the harness does
        meanwhile. ``stop`` ends it, begun or started."""
        if self._listener is None:
            self._listener = loopback_listener()
            self.port = self._listener.getsockname()[1]
            if self.tls is not None:
                self._tls_listener = loopback_listener()
                self.tls_port = self._tls_listener.getsockname()[1]
            self._spawn()

    async def start(self) -> None:
        self.begin()
        life = self.life
        assert life is not None
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=70))
        await self._healthy(life)
        self._ready = asyncio.get_running_loop().create_future()
        self._serve(life)

    async def running(self) -> ServerLife:
        """The server process to use now: after a restart under way, if there is one.

        Raises ServerError if the server died and could not be restarted.
        """
        if self._ready is None:
            raise ServerError("the variant server was not started")
        return await asyncio.shield(self._ready)

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "streamcompat.servers"]
        for spec in self.variant_specs:
            command += ["--variants", spec]
        if self.tokens is not None:
            path = os.path.join(self._tmp.name, "tokens.json")
            if not os.path.exists(path):
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(self.tokens, f)
            command += ["--tokens-file", path]
        if self.tls is not None:
            command += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        return command

    async def _launch(self) -> ServerLife:
        """Start a server process on the harness's listening socket; return it once healthy."""
        return await self._healthy(self._spawn())

    def _spawn(self) -> ServerLife:
        """Start a server process on the harness's listening socket (``life``)."""
        assert self._listener is not None
        number = self.lives + 1
        env = dict(os.environ, STREAMCOMPAT_SECRET=self.secret, PYTHONUNBUFFERED="1")
        log = open(os.path.join(self._tmp.name, f"server-{number}.log"), "w+b")  # noqa: SIM115
        ours, theirs = socket.socketpair()
        tls = self._tls_listener.dup() if self._tls_listener is not None else None
        try:
            command = [*self._command(), "--control-fd", str(theirs.fileno())]
            shared = [theirs.fileno()]
            if tls is not None:
                command += ["--tls-fd", str(tls.fileno())]
                shared.append(tls.fileno())
            # A copy of the listener: spawn closes what it is given, the harness keeps its own.
            process = spawn(
                command,
                listener=self._listener.dup(),
                env=env,
                log=log,
                pass_fds=shared,
            )
        except BaseException:
            ours.close()
            log.close()
            raise
        finally:
            theirs.close()  # the server holds its own copy
            if tls is not None:
                tls.close()
        self.lives = number
        life = self.life = ServerLife(number, process, log, ours)
        return life

    async def _healthy(self, life: ServerLife) -> ServerLife:
        """``life``, once it has taken its control channel and answers a health check."""
        try:
            await life.connect(self.secret)
            await self._wait_healthy(life)
        except BaseException:
            await life.close()
            raise
        return life

    def _serve(self, life: ServerLife) -> None:
        """Hand ``life`` to the cells waiting for it, and watch it for its death."""
        assert self._ready is not None
        self._ready.set_result(life)
        life.on_close = partial(self._died, life)
        if life.closed.is_set():  # it went before it could be watched
            self._died(life)

    def _died(self, life: ServerLife) -> None:
        """``life``'s channel closed: from now on, cells wait for its successor."""
        if self._stopping:
            return
        self._ready = asyncio.get_running_loop().create_future()
        self._restart = asyncio.ensure_future(self._replace(life))

    async def _replace(self, life: ServerLife) -> None:
        """Say how ``life`` died, and start a new server process on the same socket."""
        await life.reap()
        await life.close()
        assert self._ready is not None
        try:
            new = await self._launch()
        except Exception as exc:  # whatever it is, the run cannot go on without a server
            self.failure = (
                f"the variant server died ({life.death}) and could not be restarted: {exc}"
            )
            self._ready.set_exception(ServerError(self.failure))
            self._ready.exception()  # read by whoever asks; it need not be anyone
            self.broken.set()
            return
        self._serve(new)

    async def _wait_healthy(self, life: ServerLife) -> None:
        # Connections queue in the listen backlog until uvicorn accepts, so one
        # request simply waits for the server; polling only guards against its death.
        deadline = time.monotonic() + START_BOUND_S
        health = asyncio.ensure_future(self._health())
        try:
            while time.monotonic() < deadline:
                done, _ = await asyncio.wait({health}, timeout=0.1)
                if done and health.exception() is not None:
                    # Refused: most likely the server is exiting; let it, to say why.
                    await exited(life.process, STOP_BOUND_S)
                if life.process.poll() is not None:
                    raise ServerError(
                        f"the variant server {describe_exit(life.process.returncode)}: "
                        f"{log_summary(life.read_log()) or 'its log is empty'}"
                    )
                if done:
                    if health.exception() is None and health.result() == 200:
                        return
                    problem = health.exception() or f"HTTP {health.result()}"
                    raise ServerError(f"the variant server's health check failed: {problem}")
            raise ServerError(f"the variant server did not answer within {START_BOUND_S:.0f} s")
        finally:
            health.cancel()

    async def _health(self) -> int:
        assert self._session is not None
        async with self._session.get(f"{self.origin}/_sc/health") as response:
            return response.status

    def log_tail(self) -> str:
        """The current server process's log, summarized (see ``log_summary``)."""
        return log_summary(self.life.read_log()) if self.life else ""

    async def stop(self) -> None:
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            await asyncio.gather(self._restart, return_exceptions=True)
            self._restart = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        life, self.life = self.life, None
        if life is not None:
            await life.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._tls_listener is not None:
            self._tls_listener.close()
            self._tls_listener = None
        self._tmp.cleanup()

    # The current process's control channel, for callers that do not follow restarts.

    def _current(self) -> ServerLife:
        if self.life is None:
            raise ServerError("the variant server is not running")
        return self.life

    def expect(self, stream: str) -> None:
        self._current().expect(stream)

    async def started(self, stream: str, timeout: float) -> bool:
        return await self._current().started(stream, timeout)

    def release(self, stream: str, upto: int) -> None:
        self._current().release(stream, upto)

    async def take(self, stream: str) -> ServerRecord:
        return await self._current().take(stream)
