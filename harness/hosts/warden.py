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
BOUND``), so that it starts in milliseconds; ``processes`` starts it, once per harness.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
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
