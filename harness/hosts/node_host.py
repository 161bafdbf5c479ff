"""One Node process per run, serving cells as messages (``node_host.mjs``).

A cell is a JSON line on the host's stdin (run this script's function); its reports come
back as JSON lines on stdout, by the report protocol the browser pages share
(``scripts.js``, ``scripts.py``). Cells run concurrently in the one host. When a cell
ends on the harness side, however it ends, the host is told to abort it, so its request
and sockets go. If the host dies, its running cells fail with what it said on stderr,
and the next cell starts a new one. Like every child of a run, the host is its own
process group, dies with the harness, and is ended by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
from collections import deque
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from streamcompat.harness.hosts.processes import SIGNALS, end, spawn_piped
from streamcompat.harness.hosts.scripts import ScriptCells, script_config
from streamcompat.harness.kernel.model import ClientFailed, Reporter, Request

HOST_SCRIPT = Path(__file__).with_name("node_host.mjs")
LINE_LIMIT = 16 * 1024 * 1024  # one report line holds a whole batch (a token may be 67 KB+)
EXIT_WINDOW = 2.0  # how long a host whose stdout closed may take to finish its stderr
TAIL_LINES = 40  # of stderr, kept to say why a host died


class NodeHub:
    """A running Node host that runs a driver's script function for a cell."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.cells = ScriptCells()
        self.stderr_tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.ended = asyncio.Event()
        self._stdin: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, node: str, ca_file: str = "") -> NodeHub:
        # A private CA as Node's users add one: to the default store, at start.
        env = {"NODE_EXTRA_CA_CERTS": ca_file} if ca_file else None
        hub = cls(spawn_piped([node, str(HOST_SCRIPT)], env))
        try:
            await hub._connect()
        except BaseException:
            await hub.close()
            raise
        return hub

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self._stdin, _ = await loop.connect_write_pipe(asyncio.Protocol, self.process.stdin)
        stdout, stderr = await _reader(self.process.stdout), await _reader(self.process.stderr)
        self._tasks = [
            asyncio.ensure_future(self._read_reports(stdout)),
            asyncio.ensure_future(self._read_stderr(stderr)),
        ]

    @property
    def alive(self) -> bool:
        # poll(): a host that exited is dead before its reader has finished saying why.
        return not self.ended.is_set() and self.process.poll() is None

    async def run(self, script: Path, function: str, request: Request, report: Reporter) -> None:
        """Run ``globalThis[function](cfg, report, signal)`` from ``script`` in the host.

        Raises ClientFailed with the client's error, or if the host dies meanwhile.
        """
        cell = self.cells.open(request.cell_id, report)
        report.barrier_via(partial(self.barrier, request.cell_id))
        report.stop_via(partial(self._abort, request.cell_id))
        try:
            if not self.alive:
                raise ClientFailed(self._why_ended())
            self._send(
                op="start",
                cell=request.cell_id,
                script=str(script),
                function=function,
                cfg=script_config(request),
            )
            await cell.finished(request.read_timeout)
        finally:
            self.cells.close(request.cell_id)
            self._send(op="stop", cell=request.cell_id)  # a no-op for a cell that ended

    async def _abort(self, cell_id: str) -> None:
        self._send(op="abort", cell=cell_id)

    async def barrier(self, cell_id: str) -> float | None:
        """Return once every report the cell queued before now has reached its Reporter."""
        if not self.alive:
            return None  # nothing more of it can come

        async def send(message: dict[str, Any]) -> None:
            self._send(**message)

        return await self.cells.barrier(cell_id, send)

    def _send(self, **message: Any) -> None:
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.write(json.dumps(message).encode() + b"\n")

    async def _read_reports(self, stdout: asyncio.StreamReader) -> None:
        try:
            while line := await stdout.readline():
                try:
                    envelope = json.loads(line)
                except ValueError:
                    envelope = None
                if not isinstance(envelope, dict):  # not ours: a library wrote to stdout
                    self.stderr_tail.append(line.decode(errors="replace").rstrip())
                else:
                    self.cells.receive(envelope)
        except ValueError:  # a line past LINE_LIMIT: the stream cannot be followed any more
            self.stderr_tail.append(f"a report line longer than {LINE_LIMIT} bytes")
        finally:
            await self._ended()

    async def _read_stderr(self, stderr: asyncio.StreamReader) -> None:
        while True:  # drained to the end, so node never blocks on a full pipe
            try:
                line = await stderr.readline()
            except ValueError:  # a line past LINE_LIMIT, dropped: a tail needs none of it
                continue
            if not line:
                return
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    async def _ended(self) -> None:
        """The host's stdout closed: it died (or was ended). Fail its cells, saying why."""
        # Its stderr ends when it exits; wait for that (bounded) so the tail is whole.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), EXIT_WINDOW)
        await end(self.process)  # reaped (and ended, if it only closed its stdout)
        self.ended.set()
        self.cells.fail_all(self._why_ended())
        self.cells.end_barriers()

    def _why_ended(self) -> str:
        code = self.process.returncode
        how = f"exit {code}"
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}" if -code in SIGNALS else how
        # Node prints the source line first and its version last; the error is between.
        lines = [s.strip() for s in self.stderr_tail if s.strip()]
        why = next((s for s in lines if "Error" in s), lines[-1] if lines else "nothing on stderr")
        return f"the Node host died ({how}): {why}"

    async def close(self) -> None:
        await end(self.process)
        if self._stdin is not None:
            self._stdin.close()
        if self._tasks:  # its pipes ended with it: the readers finish (failing any cell left)
            _, pending = await asyncio.wait(self._tasks, timeout=EXIT_WINDOW)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.ended.set()


async def _reader(pipe: Any) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


class NodeHost:
    """``async with NodeHost() as host:`` — started on first ``await host.hub()``, always ended.

    A host that died is started again for the next cell.
    """

    def __init__(self, ca_file: str = "") -> None:
        self.ca_file = ca_file  # the run's CA (TLS networks), trusted by every script
        self._hub: NodeHub | None = None
        self._starting = asyncio.Lock()

    async def __aenter__(self) -> NodeHost:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def hub(self) -> NodeHub:
        async with self._starting:
            if self._hub is None or not self._hub.alive:
                dead, self._hub = self._hub, None
                if dead is not None:
                    await dead.close()
                node = shutil.which("node")
                if node is None:
                    raise ClientFailed("node is not installed")
                try:
                    self._hub = await NodeHub.start(node, self.ca_file)
                except OSError as exc:
                    raise ClientFailed(f"node could not be started: {exc}") from exc
            return self._hub

    async def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            await hub.close()
