"""Server process control: start the variant server, talk to its control channel, end it.

The harness binds the listening socket itself (127.0.0.1, ephemeral port) and hands
its file descriptor to uvicorn, so the port is known before the server starts and
nothing else can take it. The control channel is one end of a socket pair that only
the harness and the server hold (JSON lines, opened with the run's secret; see
``servers.control``): releasing a token is one small write, not an HTTP request. The
server runs in its own process group and is ended by PID, group first, whatever way
the run ends; it also ends when the harness closes its end of the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp

from harness.processes import STOP_BOUND_S, end, loopback_listener, spawn

START_BOUND_S = 30.0  # the server must answer its health check within this
TAKE_BOUND_S = 10.0  # a stream's record must come back within this
LINE_LIMIT = 1 << 20


class ServerError(Exception):
    """The variant server could not be started or stopped talking."""


class ServerProcess:
    """``async with ServerProcess(["builtin"]) as server:`` — a running variant server."""

    def __init__(self, variant_specs: Sequence[str], tokens: Sequence[str] | None = None) -> None:
        self.variant_specs = list(variant_specs)
        self.tokens = list(tokens) if tokens is not None else None
        self.secret = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._session: aiohttp.ClientSession | None = None
        self._control: asyncio.StreamWriter | None = None
        self._listen: asyncio.Task[None] | None = None
        self._started: dict[str, asyncio.Event] = {}  # streams a cell is waiting for
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lost = ""  # why the control channel closed, once it has
        self._tmp = tempfile.TemporaryDirectory(prefix="streamcompat-")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def __aenter__(self) -> ServerProcess:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        listener = loopback_listener()
        self.port = listener.getsockname()[1]
        command = [sys.executable, "-m", "servers"]
        for spec in self.variant_specs:
            command += ["--variants", spec]
        if self.tokens is not None:
            path = os.path.join(self._tmp.name, "tokens.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.tokens, f)
            command += ["--tokens-file", path]
        env = dict(os.environ, STREAMCOMPAT_SECRET=self.secret, PYTHONUNBUFFERED="1")
        self._stderr = open(os.path.join(self._tmp.name, "server.log"), "w+b")  # noqa: SIM115
        ours, theirs = socket.socketpair()
        try:
            command += ["--control-fd", str(theirs.fileno())]
            self.process = spawn(
                command, listener=listener, env=env, log=self._stderr, pass_fds=[theirs.fileno()]
            )
        finally:
            theirs.close()  # the server holds its own copy
        reader, self._control = await asyncio.open_connection(sock=ours, limit=LINE_LIMIT)
        self._send({"secret": self.secret})
        self._listen = asyncio.ensure_future(self._read_control(reader))
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=70))
        await self._wait_healthy()

    async def _wait_healthy(self) -> None:
        # Connections queue in the listen backlog until uvicorn accepts, so one
        # request simply waits for the server; polling only guards against its death.
        deadline = time.monotonic() + START_BOUND_S
        health = asyncio.ensure_future(self._health())
        try:
            while time.monotonic() < deadline:
                done, _ = await asyncio.wait({health}, timeout=0.1)
                if done and health.exception() is not None and self.process is not None:
                    # Refused: most likely the server is exiting; let it, to say why.
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        await asyncio.to_thread(self.process.wait, STOP_BOUND_S)
                if self.process is not None and self.process.poll() is not None:
                    raise ServerError(
                        f"the variant server exited with code {self.process.returncode}: "
                        f"{self.log_tail()}"
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

    def log_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(Exception):
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")[-limit:].strip()
        return ""

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._control is not None:
            self._control.close()  # the server ends when its channel closes, too
            self._control = None
        if self._listen is not None:
            self._listen.cancel()
            self._listen = None
        process, self.process = self.process, None
        await end(process)
        with contextlib.suppress(Exception):
            self._stderr.close()
        self._tmp.cleanup()

    # The control channel.

    def _send(self, message: dict[str, Any]) -> None:
        if self._control is None or self._control.is_closing():
            raise ServerError(f"the variant server's control channel is closed{self._lost}")
        self._control.write(json.dumps(message).encode() + b"\n")

    async def _read_control(self, reader: asyncio.StreamReader) -> None:
        why = ": the variant server closed it"
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if "id" in message:
                    answer = self._answers.pop(int(message["id"]), None)
                    if answer is not None and not answer.done():
                        answer.set_result(message)
                elif message.get("ev") == "started":
                    event = self._started.get(str(message.get("stream")))
                    if event is not None:
                        event.set()
                elif message.get("ev") == "refused":
                    why = f": refused ({message.get('why')})"
                    break
        except (OSError, ValueError) as exc:
            why = f": {exc!r}"
        finally:
            self._lost = why
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(ServerError(f"the control channel closed{why}"))
            self._answers.clear()

    def expect(self, stream: str) -> None:
        """Note ``stream`` before its request is made, so its start is not missed."""
        self._started.setdefault(stream, asyncio.Event())

    async def started(self, stream: str, timeout: float) -> bool:
        """True once a request for ``stream`` reached the server; False after ``timeout``."""
        event = self._started.setdefault(stream, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def release(self, stream: str, upto: int) -> None:
        """Let ``stream`` emit up to token ``upto`` (one past the last: its end)."""
        self._send({"op": "release", "stream": stream, "upto": upto})

    async def take(self, stream: str) -> dict[str, Any]:
        """The stream's record (emission times, errors), which the server then forgets."""
        self._started.pop(stream, None)
        key = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        try:
            self._send({"op": "take", "stream": stream, "id": key})
            record: dict[str, Any] = await asyncio.wait_for(answer, TAKE_BOUND_S)
        finally:
            self._answers.pop(key, None)
        return record
