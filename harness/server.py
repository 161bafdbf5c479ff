"""Server process control: start the variant server, talk to its control channel, end it.

The harness binds the listening socket itself (127.0.0.1, ephemeral port) and hands
its file descriptor to uvicorn, so the port is known before the server starts and
nothing else can take it. The server runs in its own process group and is ended by
PID, group first, whatever way the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp

from harness.processes import STOP_BOUND_S, end, loopback_listener, spawn

SECRET_HEADER = "x-streamcompat-secret"
START_BOUND_S = 30.0  # the server must answer its health check within this


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
        self.process = spawn(command, listener=listener, env=env, log=self._stderr)
        self._session = aiohttp.ClientSession(
            headers={SECRET_HEADER: self.secret},
            timeout=aiohttp.ClientTimeout(total=70),
        )
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
        process, self.process = self.process, None
        await end(process)
        with contextlib.suppress(Exception):
            self._stderr.close()
        self._tmp.cleanup()

    # The control channel.

    async def _call(self, method: str, path: str, **params: Any) -> Any:
        if self._session is None:
            raise ServerError("the variant server is not running")
        async with self._session.request(
            method, f"{self.origin}/_sc/streams/{path}", params=params
        ) as response:
            if response.status != 200:
                raise ServerError(f"control {method} {path}: HTTP {response.status}")
            return await response.json()

    async def release(self, stream: str, upto: int) -> None:
        await self._call("POST", f"{stream}/release", upto=upto)

    async def started(self, stream: str, timeout: float) -> bool:
        answer = await self._call("GET", f"{stream}/started", timeout=timeout)
        return bool(answer["started"])

    async def record(self, stream: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", stream)
        return answer

    async def forget(self, stream: str) -> None:
        await self._call("DELETE", stream)
