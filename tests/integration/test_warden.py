"""What outlives its group's leader is ended too: by ``processes.end`` once the leader has
exited (a master's workers, whose master died first), and by the warden (``hosts.warden``)
when the harness itself is killed outright, when none of its code runs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from streamcompat.harness.hosts.processes import end, spawn_piped
from tests.integration.test_processes import (
    BOUND_S,
    WITH_GRANDCHILD,
    first_line,
    gone_within,
    put_down,
)
from tests.support.procs import alive

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc and pidfds")

# A harness in small: it starts a child (its own group, as every child of a run) whose
# grandchild dies with nobody (no parent-death signal, SIGTERM's default); says both
# PIDs; and waits to be killed.
HARNESS = f"""
from streamcompat.harness.hosts.processes import spawn_piped
import sys
child = spawn_piped([sys.executable, "-c", {WITH_GRANDCHILD!r}])
print(child.pid, child.stdout.readline().decode().strip(), flush=True)
sys.stdin.read()
"""


def test_end_ends_a_group_whose_leader_exited_first() -> None:
    child = spawn_piped([sys.executable, "-c", WITH_GRANDCHILD])
    grandchild = 0
    try:
        grandchild = int(first_line(child))
        assert child.stdin is not None
        child.stdin.close()  # the child exits; its grandchild, in its group, lives on
        assert child.wait(BOUND_S) == 0
        assert alive(grandchild)
        asyncio.run(end(child))
        assert gone_within(grandchild, BOUND_S), "the grandchild outlived end()"
    finally:
        put_down(child, *([grandchild] if grandchild else []))


def test_the_warden_ends_the_groups_of_a_harness_killed_outright() -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    pids: list[int] = []
    try:
        pids = [int(p) for p in first_line(harness).split()]
        child, grandchild = pids
        harness.kill()  # no code of it runs: its child dies of its parent-death signal
        harness.wait(BOUND_S)
        assert gone_within(child, BOUND_S), "the child outlived its harness"
        assert gone_within(grandchild, BOUND_S), "the grandchild outlived the harness"
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        put_down(harness)
