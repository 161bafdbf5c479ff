"""Child processes of a run: started in their own process group, ended by PID.

Every process the harness starts goes through here, so that each is ended the same
way — SIGTERM to its group, then SIGKILL after a bound — on every path out of a run,
and dies with the harness (PR_SET_PDEATHSIG) if the harness is killed outright. What
outlives its group's leader (a server's workers, whose master died first) is ended
with the group; and should the harness die with such processes left, its warden
(``warden``) ends their groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from streamcompat.harness.hosts.warden import Warden, all_exited, members

STOP_BOUND_S = 5.0  # a child gets this long after SIGTERM, then it is killed


Running = TypeVar("Running", bound="Lifecycle")
T = TypeVar("T")


class Lifecycle:
    """``async with`` for what the harness starts (a server process, an app): started on
    entry, and stopped on exit however the block ends, or at once if starting failed
    half-way (a process may be running already)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: Running) -> Running:
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


class Together:
    """``async with Together() as ends:`` — what is entered through it (``enter``,
    ``callback``) is ended all at once on the way out, rather than one after another:
    a run then waits for its slowest child (Chromium's close, about 0.4 s), not for the
    sum of them all. Each end is bounded by itself; the first that failed is raised once
    all are over. A cancellation meanwhile (a second Ctrl-C) waits for them too, and is
    raised after them: nothing is left half-ended."""

    def __init__(self) -> None:
        self._ends: list[Callable[[], Awaitable[Any]]] = []
        self._raised: tuple[type[BaseException] | None, BaseException | None, Any] = (
            None,
            None,
            None,
        )

    async def enter(self, context: AbstractAsyncContextManager[T]) -> T:
        value = await context.__aenter__()
        self._ends.append(lambda: context.__aexit__(*self._raised))
        return value

    def callback(self, end: Callable[[], Awaitable[Any]]) -> None:
        self._ends.append(end)

    async def __aenter__(self) -> Together:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._raised = (t, e, tb)
        ends, self._ends = self._ends, []
        ending = asyncio.gather(*(end() for end in ends), return_exceptions=True)
        cancelled = False
        while not ending.done():
            try:
                await asyncio.shield(ending)
            except asyncio.CancelledError:
                cancelled = True  # each end is bounded: let them all finish first
        if cancelled:
            raise asyncio.CancelledError
        for outcome in ending.result():
            if isinstance(outcome, BaseException):
                raise outcome


#: The harness's warden (``warden``): told of every group started here, it ends those
#: still held should the harness die first.
WARDEN = Warden(STOP_BOUND_S)


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_child_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a child's (server's, proxy's) event loop: uvloop where it is installed.

    uvloop is what ``uvicorn[standard]`` deployments run on, and it spends about a fifth
    less CPU per write and wake-up than asyncio's own loop, which the clients in the
    harness process keep.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def loopback_listener() -> socket.socket:
    """A listening socket on 127.0.0.1 and an ephemeral port, for a child to serve on."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def spawn(
    command: Sequence[str],
    *,
    listener: socket.socket | None,
    env: dict[str, str] | None = None,
    log: IO[bytes] | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``command`` serving on ``listener`` (passed as ``--fd N``), sharing ``pass_fds``.

    ``listener=None``: a program that binds its own port (an app under test).
    """
    fd = [] if listener is None else ["--fd", str(listener.fileno())]
    try:
        process = subprocess.Popen(
            [*command, *fd],
            pass_fds=[*([] if listener is None else [listener.fileno()]), *pass_fds],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log or subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
            start_new_session=True,  # its own process group, ended as one
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if listener is not None:
            listener.close()  # the child holds its own copy
    WARDEN.watch(process.pid)
    return process


def spawn_piped(
    command: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` talking over pipes (stdin, stdout, stderr): a host that is sent work;
    ``env``: added to this process's environment.

    Call it from the event loop's thread: PR_SET_PDEATHSIG fires when the thread that
    started the child ends, not only the process.
    """
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, ended as one
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        env={**os.environ, **env} if env else None,
    )
    WARDEN.watch(process.pid)
    return process


async def end(process: subprocess.Popen[bytes] | None) -> None:
    """End a child and its group: SIGTERM, then SIGKILL after STOP_BOUND_S; bounded. A
    child that has exited already may have left its group behind (a master's workers):
    the group is ended all the same."""
    if process is None:
        return
    group = process.pid  # its own group (start_new_session)
    try:
        if process.poll() is None:
            _signal_group(group, signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                await asyncio.to_thread(process.wait, STOP_BOUND_S)
            await _end_stragglers(group, signalled=True)
        else:
            await _end_stragglers(group, signalled=False)
    finally:
        await WARDEN.release(group)


async def _end_stragglers(group: int, signalled: bool) -> None:
    """End what is left of ``group`` once its leader is gone: SIGTERM (unless the group
    had it already), SIGKILL after STOP_BOUND_S."""
    left = members({group})
    if not left:
        return
    if not signalled:
        _signal_group(group, signal.SIGTERM)
    if not await all_exited(left, STOP_BOUND_S):
        _signal_group(group, signal.SIGKILL)
        await all_exited(members({group}), STOP_BOUND_S)


async def exited(process: subprocess.Popen[bytes], bound: float) -> bool:
    """Wait up to ``bound`` seconds for a child to exit (and reap it); True if it has.

    A pidfd, where the OS has them, becomes readable when the child exits: no thread, so
    no wait behind the drivers that hold the default executor's threads (requests).
    """
    if process.poll() is not None:
        return True
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: a thread waits instead
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, bound)
        return process.poll() is not None
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(pidfd, gone.set)
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(gone.wait(), bound)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return process.poll() is not None


async def kill(process: asyncio.subprocess.Process, reap_bound: float) -> None:
    """Kill a client's process group (it saves nothing) and reap it, within ``reap_bound``."""
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(process.wait(), reap_bound)
    await WARDEN.release(process.pid)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Only a group this harness created (the child's pid is its group id).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


LOG_LINES = 3  # of a process's log, named in what is said about its death
SIGNALS = {int(s) for s in signal.Signals}


def describe_exit(code: int | None) -> str:
    """``exited with code 3``, ``killed by SIGKILL``: how a process ended, as its user says it."""
    if code is None:
        return "still running"
    if code < 0 and -code in SIGNALS:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def log_summary(text: str, lines: int = LOG_LINES, limit: int = 600) -> str:
    """The last few lines that say something: a traceback's frames are left out (its last
    line, the exception, stays), so that a death is told in one line, never as a traceback."""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.startswith((" ", "\t"))
        and not line.startswith("Traceback (most recent call last)")
    ]
    return " | ".join(kept[-lines:])[-limit:]


def listening(group: int) -> list[tuple[str, int]]:
    """The TCP addresses the processes of process group ``group`` listen on (Linux; none
    where there is no /proc)."""
    inodes: set[str] = set()
    if not Path("/proc/net/tcp").exists():
        return []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found: list[tuple[str, int]] = []
    for table, size in (("tcp", 4), ("tcp6", 16)):
        with contextlib.suppress(OSError):
            for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)
                # /proc prints the address as host-order 32-bit words.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
                family = socket.AF_INET if size == 4 else socket.AF_INET6
                found.append((socket.inet_ntop(family, words), int(port, 16)))
    return found
