"""The run's warden: a process that outlives the harness only to end what the harness started.

A server's master dies with the harness (PR_SET_PDEATHSIG) and ends its workers; but the
workers do not die with their master (measured: the workers of uvicorn --workers,
gunicorn, hypercorn and granian outlive a SIGKILLed master by more than 15 s). A master
that dies without ending them (killed outright, out of memory, stuck past its graceful
timeout while its harness is gone) leaves them to no one: only their process group still
names them. So the harness tells this process every group it starts (``+PGID``) and every
group it has ended (``-PGID``) over a pipe; when the pipe closes — the harness exited,
however, even by SIGKILL when none of its code runs — the warden ends the groups it still
holds, SIGTERM then SIGKILL after a bound, and exits.

It imports only the standard library, and runs as a script (``python -I warden.py
BOUND``), so that it starts in milliseconds. ``Warden`` is the harness's end of the pipe
(``processes.WARDEN``): it starts the warden with the first group it is told of, and
ends it, reaped, once it holds none (a run that ended everything leaves no warden).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Iterable
from pathlib import Path


def members(groups: Collection[int]) -> dict[int, int]:
    """The live processes of process groups ``groups``: ``{pid: group}`` (Linux's /proc;
    none elsewhere). A zombie is over, whoever reaps it."""
    found: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (proc / "stat").read_text()
                # The command name may hold spaces and parentheses; fields follow the last ')'.
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) in groups and fields[0] != "Z":
                    found[int(proc.name)] = int(fields[2])
    return found


def signal_groups(groups: Iterable[int], sig: signal.Signals) -> None:
    """Signal each of ``groups`` (only groups with members: an id no process holds now
    could be anyone's later)."""
    for group in set(members(set(groups)).values()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)


def pidfds(pids: Iterable[int]) -> list[int]:
    """A pidfd for each of ``pids`` still running: readable once it exits, child or not."""
    fds = []
    for pid in pids:
        with contextlib.suppress(OSError):  # gone already
            fds.append(os.pidfd_open(pid))
    return fds


def wait_gone(pids: Iterable[int], bound: float) -> bool:
    """Block until every one of ``pids`` has exited, at most ``bound`` seconds; True if
    they all have."""
    fds = pidfds(pids)
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + bound
    try:
        while fds and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                fds.remove(fd)
                os.close(fd)
        return not fds
    finally:
        for fd in fds:
            os.close(fd)


def end_groups(groups: Collection[int], bound: float) -> None:
    """SIGTERM to every group, then SIGKILL to what is left after ``bound`` (a worker the
    master started meanwhile included: the groups are looked at again)."""
    signal_groups(groups, signal.SIGTERM)
    wait_gone(members(groups), bound)
    if members(groups):
        signal_groups(groups, signal.SIGKILL)
        wait_gone(members(groups), bound)


async def all_exited(pids: Iterable[int], bound: float) -> bool:
    """Wait up to ``bound`` seconds for ``pids`` (children or not) to exit, in the event
    loop: a pidfd each, readable once its process has exited. True if they all have."""
    loop = asyncio.get_running_loop()
    waits = []
    for fd in pidfds(pids):
        gone = asyncio.Event()
        loop.add_reader(fd, gone.set)
        waits.append((fd, gone))
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(g.wait() for _, g in waits)), bound)
        return all(g.is_set() for _, g in waits)
    finally:
        for fd, _ in waits:
            loop.remove_reader(fd)
            os.close(fd)


class Warden:
    """The harness's end of the warden's pipe: ``watch`` a group the harness started,
    ``release`` one it has ended. The warden starts with the first group watched, and
    exits (told by the pipe's end, and reaped) once none is held."""

    def __init__(self, bound: float) -> None:
        self.bound = bound  # what the warden gives a group between SIGTERM and SIGKILL
        self._lock = threading.Lock()  # a driver's thread may start a process too
        self._process: subprocess.Popen[bytes] | None = None
        self._held: set[int] = set()

    def watch(self, group: int) -> None:
        with self._lock, contextlib.suppress(OSError):  # no warden: nothing it could do
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    # -I: the standard library only, not this folder (processes.py & co.)
                    [sys.executable, "-I", __file__, str(self.bound)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # not the terminal's: Ctrl-C is the harness's
                )
                self._held.clear()  # a warden that died held them: they are no one's now
            self._tell(self._process, f"+{group}\n")
            self._held.add(group)

    async def release(self, group: int) -> None:
        with self._lock:
            process = self._process
            if process is None or group not in self._held:
                return
            self._held.discard(group)
            if self._held:
                with contextlib.suppress(OSError):
                    self._tell(process, f"-{group}\n")
                return
            self._process = None  # nothing held: this warden ends, the next group starts one
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()  # it ends nothing: every group it was told of is released
        await all_exited([process.pid], self.bound)
        process.poll()  # reaped

    @staticmethod
    def _tell(process: subprocess.Popen[bytes], line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line.encode())
        process.stdin.flush()


def main(bound: float) -> None:
    held: set[int] = set()
    for line in sys.stdin.buffer:  # until the harness's end of the pipe closes
        with contextlib.suppress(ValueError):
            sign, group = line[:1], int(line[1:])
            if sign == b"+":
                held.add(group)
            elif sign == b"-":
                held.discard(group)
    if held:
        end_groups(held, bound)


if __name__ == "__main__":
    # Not the terminal's: a Ctrl-C meant for the harness is not meant for the warden.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
