"""App mode: a user's real app, started as a process whose LLM calls go to the fake upstream.

``App`` is what the user said (the command, the endpoint, the body, the codec);
``AppProcess`` runs it. The app gets the fake upstream's address the way OpenAI-style
SDKs read it (``OPENAI_BASE_URL`` and friends), and the stream id travels in the prompt
as a marker (``sc-<16 hex>``) that the upstream finds in the messages
(``servers.upstream``): the app's own route, chain and middleware are what get gated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from streamcompat.harness.engine.server import ServerError
from streamcompat.harness.hosts.processes import (
    Lifecycle,
    describe_exit,
    end,
    exited,
    log_summary,
    loopback_listener,
    spawn,
)
from streamcompat.harness.kernel.codecs import codec as find_codec
from streamcompat.harness.kernel.model import Facts, Variant

HOST = "127.0.0.1"
PROMPT = "Say something that breaks clients."
#: A key for SDKs that refuse to start without one; the fake upstream ignores it.
FAKE_KEY = "sk-streamcompat-fake-upstream"
#: Times an app that exits while cells run is started again before the run gives up.
MAX_RESTARTS = 3
#: A cell whose client failed looks this long for the app's exit (the kernel closes the
#: app's sockets as it exits: the client's error and the exit come together).
DEATH_BOUND_S = 0.25
#: One attempt to reach a starting app; the start timeout bounds them all.
READY_ATTEMPT_S = 1.0


@dataclass
class Death:
    """The app exited while cells ran: when, how, and when it listened again."""

    at: float
    how: str  # "exited with code 1; its log ... ends: ..."
    back_at: float = math.inf  # still being started again


class AppError(ServerError):
    """The app could not be started (or started again): the run cannot go on."""


def marker(stream: str) -> str:
    """What marks ``stream`` in the prompt (``servers.upstream.MARKER`` finds it)."""
    return f"sc-{stream}"


def fill(template: Any, prompt: str) -> Any:
    """``template`` (parsed JSON) with ``{prompt}`` replaced in every string inside it:
    substituted in values, not in the JSON text, so any prompt stays valid JSON."""
    if isinstance(template, str):
        return template.replace("{prompt}", prompt)
    if isinstance(template, list):
        return [fill(item, prompt) for item in template]
    if isinstance(template, dict):
        return {fill(k, prompt): fill(v, prompt) for k, v in template.items()}
    return template


def _unused(tokens: Any) -> Any:
    raise AssertionError("an app's cells are answered by the app, not by a response factory")


@dataclass(frozen=True)
class App:
    """A user's app and how to call its streaming endpoint."""

    command: str  # {port} and {host} are filled in; split like a shell would, run without one
    endpoint: str = "POST /chat"  # METHOD /path; a GET's query carries {prompt}
    body: str = '{"message": "{prompt}"}'  # JSON, {prompt} inside its strings (POST)
    codec: str = "text"
    event: str = "message"
    end_event: str = "end"
    end_data: str | None = None
    name: str = "app"
    start_timeout: float = 30.0
    log: Path = Path("results/app.log")
    #: The built-in relay under a named server (``kernel.servers``): it serves the
    #: variants at ``/v/<name>``, asked as the variant server is, and answers ``ready``
    #: (a path) once it can; ``fd``: it serves the harness's own listening socket,
    #: handed over as ``--fd N``, instead of binding {port}; ``env``: more environment.
    relay: bool = False
    ready: str = ""
    fd: bool = False
    env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise AppError with one sentence if the user's description cannot work."""
        if not shlex.split(self.command or ""):
            raise AppError("--app is empty: give the command that starts the app")
        if "{port}" not in self.command and not self.fd:
            raise AppError(
                f"--app {self.command!r} has no {{port}}: the harness picks the port, "
                'e.g. "uvicorn myapp.main:app --port {port}"'
            )
        method, _, path = self.endpoint.partition(" ")
        if method not in ("GET", "POST") or not path.startswith("/"):
            raise AppError(f"--endpoint {self.endpoint!r}: expected 'POST /path' or 'GET /path'")
        if method == "GET" and "{prompt}" not in urlsplit(path).query:
            raise AppError(
                f"--endpoint {self.endpoint!r}: a GET endpoint needs {{prompt}} in its "
                "query (e.g. 'GET /chat?q={prompt}'), or the stream marker cannot reach the app"
            )
        if method == "POST":
            try:
                parsed = json.loads(self.body)
            except ValueError as exc:
                raise AppError(f"--body is not JSON ({exc}): {self.body!r}") from None
            if not isinstance(parsed, dict):
                raise AppError(f"--body must be a JSON object: {self.body!r}")
            if fill(parsed, "\0") == parsed:
                raise AppError(
                    f"--body {self.body!r} has no {{prompt}}: the stream marker cannot "
                    "reach the app"
                )
        try:
            find_codec(self.codec)
        except ValueError as exc:
            raise AppError(f"--codec: {exc}") from None
        if not self.start_timeout > 0:
            raise AppError(f"--app-start-timeout must be positive, not {self.start_timeout:g}")

    @property
    def method(self) -> Literal["GET", "POST"]:
        return "GET" if self.endpoint.startswith("GET ") else "POST"

    @property
    def path(self) -> str:
        return self.endpoint.partition(" ")[2]

    def variant(self) -> Variant:
        """The app as a variant record: its name, codec and SSE knobs (the app responds)."""
        return Variant(
            name=self.name,
            respond=_unused,
            codec=self.codec,
            description=f"app: {self.command} ({self.endpoint})",
            methods=frozenset({self.method}),
            event=self.event,
            end_event=self.end_event,
            end_data=self.end_data,
        )

    def request(self, origin: str, stream: str) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body that ask the app for ``stream``."""
        prompt = f"{PROMPT} {marker(stream)}"
        parts = urlsplit(self.path)
        if self.method == "GET":
            query = urlencode([(k, fill(v, prompt)) for k, v in parse_qsl(parts.query, True)])
            return f"{origin}{parts.path}?{query}", {}
        body: dict[str, Any] = fill(json.loads(self.body), prompt)
        return f"{origin}{self.path}", body


def free_port() -> int:
    """A loopback port nobody listens on now, for the app to bind (it binds it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class AppProcess(Lifecycle):
    """``async with AppProcess(app, upstream) as running:`` — the app, listening, pointed at
    the fake upstream; ended by PID (its process group) on the way out.

    If it exits while cells run, it is started again on the same port (the networks'
    proxies stay in front of it), and the cells it was serving say that it died
    (``annotate``); cells wait for it to be back (``running``). One that cannot be started
    again, or dies more than MAX_RESTARTS times, sets ``broken``; ``failure`` says how.
    """

    def __init__(self, app: App, upstream: str) -> None:
        self.app = app
        self.upstream = upstream  # the fake upstream's origin, http://127.0.0.1:<port>
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.broken = asyncio.Event()
        self.failure = ""
        self.deaths: list[Death] = []
        self._up = asyncio.Event()  # listening; cleared while it is being started again
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self._listener: socket.socket | None = None  # ``App.fd``: the harness's copy

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def tls_origin(self) -> str:
        return ""  # an app serves plain HTTP here: a TLS proxy goes in front of it

    def environment(self) -> dict[str, str]:
        """The user's environment, with every common SDK pointed at the fake upstream."""
        base = f"{self.upstream}/v1"
        return dict(
            os.environ,
            OPENAI_BASE_URL=base,  # openai >= 1, langchain-openai
            OPENAI_API_BASE=base,  # older langchain, litellm
            OPENAI_API_KEY=FAKE_KEY,
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",  # its log tail is current when it dies
            **dict(self.app.env),
        )

    async def start(self) -> None:
        if self.app.fd:  # kept across restarts, like the variant server's
            self._listener = loopback_listener()
            self.port = self._listener.getsockname()[1]
        else:
            self.port = free_port()
        await self._launch(mode="wb")
        self._up.set()
        self._watch = asyncio.ensure_future(self._watch_exit())

    async def running(self) -> None:
        """Return once the app listens (after a restart under way); AppError if it cannot."""
        up = asyncio.ensure_future(self._up.wait())
        broken = asyncio.ensure_future(self.broken.wait())
        try:
            await asyncio.wait({up, broken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            broken.cancel()
        if not self._up.is_set():
            raise AppError(self.failure)

    async def _launch(self, mode: str) -> None:
        fields = {"{port}": str(self.port), "{host}": HOST}
        command = []
        for arg in shlex.split(self.app.command):
            for name, value in fields.items():
                arg = arg.replace(name, value)
            command.append(arg)
        self.app.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.app.log, mode) as log:  # the child writes to its own copy
            listener = self._listener.dup() if self._listener is not None else None
            try:
                self.process = spawn(command, listener=listener, env=self.environment(), log=log)
            except OSError as exc:
                raise AppError(f"the app could not be started: {command[0]}: {exc}") from None
        await self._listening()

    async def _listening(self) -> None:
        """Return once the app accepts connections; AppError if it exits or takes too long."""
        assert self.process is not None
        deadline = time.monotonic() + self.app.start_timeout
        while True:
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                if await asyncio.wait_for(self._answers(), READY_ATTEMPT_S):
                    return
            # Not listening yet: wait a moment for the app to exit instead, bounded.
            if await exited(self.process, 0.05):
                raise AppError(
                    f"the app ({self.app.command}) {describe_exit(self.process.returncode)} "
                    f"before it listened on {HOST}:{self.port}; {self.said()}"
                )
            if time.monotonic() > deadline:
                raise AppError(
                    f"the app ({self.app.command}) did not listen on {HOST}:{self.port} "
                    f"within {self.app.start_timeout:g} s (--app-start-timeout); {self.said()}"
                )

    async def _answers(self) -> bool:
        """True if the app takes a connection (and answers ``ready`` with a 200, where the
        app has such a path: a socket handed over listens before its server does)."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            if not self.app.ready:
                return True
            writer.write(
                f"GET {self.app.ready} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            return (await reader.readline()).split()[1:2] == [b"200"]
        finally:
            writer.close()

    async def _watch_exit(self) -> None:
        """Start the app again each time it exits, until the run ends or it cannot be."""
        while True:
            assert self.process is not None
            while not await exited(self.process, 3600):
                pass
            if self._stopping:
                return
            death = Death(
                time.monotonic(), f"{describe_exit(self.process.returncode)}; {self.said()}"
            )
            self.deaths.append(death)
            self._up.clear()
            if len(self.deaths) > MAX_RESTARTS:
                self.failure = (
                    f"the app ({self.app.command}) died {len(self.deaths)} times while "
                    f"cells ran; the last time: {death.how}"
                )
                self.broken.set()
                return
            try:
                await end(self.process)  # its workers, if a master died without them
                await self._launch(mode="ab")
            except AppError as exc:
                self.failure = (
                    f"the app died while cells ran ({death.how}) and could not be "
                    f"started again: {exc}"
                )
                self.broken.set()
                return
            death.back_at = time.monotonic()
            self._up.set()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return log_summary(self.app.log.read_text(encoding="utf-8", errors="replace"))
        return ""

    def said(self) -> str:
        tail = self.log_tail()
        return (
            f"its log {self.app.log} ends: {tail}" if tail else f"its log {self.app.log} is empty"
        )

    async def annotate(self, facts: Facts, stream: str) -> None:
        """Mark the cell's facts as the app's; say if the app died while the cell ran, or
        never called the upstream for the cell's stream (or called it without the prompt
        that carries the marker)."""
        facts.app = self.app.name
        process = self.process
        # A client fails the moment the app dies, a moment before the death is noticed:
        # look, briefly, whether that is why (not while a restart is under way: then
        # ``process`` is the new one, and the death is already in ``deaths``).
        if (
            facts.failure
            and self._up.is_set()
            and process is not None
            and await exited(process, DEATH_BOUND_S)
        ):
            facts.server_note = (
                f"the app died while the cell ran ({describe_exit(process.returncode)}; "
                f"{self.said()}); the harness starts it again"
            )
            return
        ended = facts.finished_at or time.monotonic()
        for death in self.deaths:
            if death.at <= ended and facts.started_at <= death.back_at:
                facts.server_note = (
                    f"the app died while the cell ran ({death.how}); the harness started it again"
                )
                return
        if facts.requests == 0 and not facts.unsupported and not facts.server_died:
            facts.server_note = (
                "the app never called the fake upstream for this stream (no request carried "
                f"the prompt's marker {marker(stream)}); {self.said()}"
            )

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await end(self.process)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
