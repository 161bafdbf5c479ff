"""One process of the variant server and its control channel (``ServerLife``): what
cells ask of it (expect a stream, wait for its request, release tokens, take its record)
and how its death is noticed (the channel closes) and told. ``engine.server`` starts,
restarts and ends the processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from streamcompat.harness.hosts.processes import (
    STOP_BOUND_S,
    describe_exit,
    end,
    exited,
    log_summary,
)
from streamcompat.harness.kernel.server_record import ServerRecord, parse_record

TAKE_BOUND_S = 10.0  # a stream's record must come back within this
LINE_LIMIT = 1 << 20


class ServerError(Exception):
    """The variant server could not be started, or restarted, or stopped talking."""


@dataclass
class _Seen:
    """What the server told of one stream so far."""

    started: asyncio.Event = field(default_factory=asyncio.Event)  # its request arrived
    head: asyncio.Event = field(default_factory=asyncio.Event)  # its response head went out


class ServerLife:
    """One process of the variant server, from its start to its death, and its control channel.

    Cells hold on to the life they started on: what they release and take goes to that
    process, and if it dies, ``dead`` is set and ``death`` says how (exit code or signal,
    the end of its log).
    """

    def __init__(
        self, number: int, process: subprocess.Popen[bytes], log: IO[bytes], channel: socket.socket
    ) -> None:
        self.number = number  # 1 for the first process of a run, 2 for its first restart, ...
        self.process = process
        self.log = log
        self._channel: socket.socket | None = channel  # the control socket, until connected
        self.control: asyncio.StreamWriter | None = None
        self.lost = ""  # why the control channel closed, once it has
        self.closed = asyncio.Event()  # the control channel closed: the server is gone or going
        self.dead = asyncio.Event()  # the process ended, and ``death`` says how
        self.death = ""
        #: Called as the channel closes, in the same step: nobody is handed a closed life.
        self.on_close: Callable[[], None] = lambda: None
        self._listen: asyncio.Task[None] | None = None
        self._seen: dict[str, _Seen] = {}
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def connect(self, secret: str) -> None:
        sock, self._channel = self._channel, None
        if sock is None:
            raise ServerError("the variant server's control channel is closed")
        reader, self.control = await asyncio.open_connection(sock=sock, limit=LINE_LIMIT)
        self.send({"secret": secret})
        self._listen = asyncio.ensure_future(self._read_control(reader))

    def send(self, message: dict[str, Any]) -> None:
        # Closed once its reader has ended: nothing written now could be answered.
        if self.control is None or self.control.is_closing() or self.closed.is_set():
            raise ServerError(f"the variant server's control channel is closed{self.lost}")
        self.control.write(json.dumps(message).encode() + b"\n")

    async def _read_control(self, reader: asyncio.StreamReader) -> None:
        why = ": the variant server closed it"
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if "id" in message:
                    answer = self._answers.pop(int(message["id"]), None)
                    if answer is not None and not answer.done():
                        answer.set_result(message)
                elif message.get("ev") in ("started", "head"):
                    # Only streams a cell expects: a stray request (an EventSource
                    # reconnecting after its cell ended) leaves nothing behind.
                    if (seen := self._seen.get(str(message.get("stream")))) is not None:
                        (seen.started if message["ev"] == "started" else seen.head).set()
                elif message.get("ev") == "refused":
                    why = f": refused ({message.get('why')})"
                    break
        except (OSError, ValueError) as exc:
            why = f": {exc!r}"
        finally:
            self.lost = why
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(ServerError(f"the control channel closed{why}"))
                    answer.exception()  # nobody may be waiting for it any more
            self._answers.clear()
            self.closed.set()
            self.on_close()

    def _of(self, stream: str) -> _Seen:
        return self._seen.setdefault(stream, _Seen())

    async def reap(self) -> None:
        """Once the channel closed: wait (bounded) for the process to end, and say how it did."""
        how = ""
        if not await exited(self.process, STOP_BOUND_S):
            await end(self.process)
            how = "closed its control channel and was ended, "
        tail = log_summary(self.read_log())
        said = f"its log ends: {tail}" if tail else "its log is empty"
        self.death = f"{how}{describe_exit(self.process.returncode)}; {said}"
        self.dead.set()

    def read_log(self) -> str:
        # Read by name: the file's own offset is shared with the server writing to it.
        with contextlib.suppress(OSError), open(self.log.name, "rb") as log:
            return log.read().decode("utf-8", "replace")
        return ""

    async def close(self) -> None:
        """End the process (closing its channel ends it too) and forget it."""
        if self._channel is not None:  # never connected
            self._channel.close()
            self._channel = None
        if self.control is not None:
            self.control.close()  # the server ends when its channel closes, too
        if self._listen is not None:
            self._listen.cancel()
        await end(self.process)
        with contextlib.suppress(Exception):
            self.log.close()

    # What cells ask of their server.

    def expect(self, stream: str) -> None:
        """Note ``stream`` before its request is made, so its start is not missed."""
        self._of(stream)

    async def started(self, stream: str, timeout: float) -> bool:
        """True once a request for ``stream`` reached the server; False after ``timeout``."""
        try:
            await asyncio.wait_for(self._of(stream).started.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def head(self, stream: str) -> asyncio.Event:
        """Set once the server has sent the response head of ``stream``."""
        return self._of(stream).head

    def release(self, stream: str, upto: int, fail_at: int = 0) -> None:
        """Let ``stream`` emit up to token ``upto`` (one past the last: its end); with
        ``fail_at``, its model raises instead of producing that token (the error scenario)."""
        message: dict[str, Any] = {"op": "release", "stream": stream, "upto": upto}
        if fail_at:
            message["fail_at"] = fail_at
        self.send(message)

    async def take(self, stream: str, settle: float = 0.0) -> ServerRecord:
        """The stream's record (emission times, errors), which the server then forgets;
        with ``settle`` (the abort scenario: its client has left), once its model run is
        over, or it was not after ``settle`` seconds and then ``settle`` more while the
        model ran as the response asked (``servers.control.Streams.settled``)."""
        self._seen.pop(stream, None)
        key = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        try:
            message: dict[str, Any] = {"op": "take", "stream": stream, "id": key}
            if settle:
                message["settle"] = settle
            self.send(message)
            bound = TAKE_BOUND_S + 2 * settle
            record = await asyncio.wait_for(answer, bound)
        finally:
            self._answers.pop(key, None)
        return parse_record(record)
