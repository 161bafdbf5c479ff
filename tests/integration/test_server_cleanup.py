"""Every server (``kernel.servers``; one added there is covered here) and all its processes
— uvicorn's and gunicorn's workers, hypercorn's and granian's worker — end with the run:
a run that ends by itself, by Ctrl-C, SIGTERM or SIGKILL of the harness; and one whose
servers' masters were killed outright first, whose workers outlive their master (the run
ends their groups, and the warden, ``hosts.warden``, does when the harness is killed too).

One run per way of ending, every server in it; one variant per server interface, one cell
per server and client. The ``requests-lines`` cells hold a plain stream back for the hold
window, so cells are still running (and connections open to every server) when the run
is signalled."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.servers import SERVERS, server
from streamcompat.servers.frameworks import VARIANTS as FRAMEWORKS
from streamcompat.servers.variants import VARIANTS
from tests.support.live_runs import LiveRun, assert_all_gone, end_run
from tests.support.procs import stat_fields

MISSING = servers_unavailable(list(SERVERS))
SERVED = [n for n in SERVERS if n not in MISSING]
OWN = [n for n in SERVED if not server(n).embedded]  # processes of their own
WORKERS = [n for n in OWN if server(n).processes > 1]  # a master and its workers
HOLD_S = "5"  # each requests-lines cell: one hold window, so a run lasts a few of them


def variants_for(servers: list[str]) -> list[str]:
    """One variant per interface of ``servers`` (a built-in's first: raw for ASGI; a
    framework's for WSGI), so that every server has cells."""
    interfaces = {server(n).interface for n in servers}
    known = [*VARIANTS, *FRAMEWORKS]
    found = {next((v.name for v in known if i in v.interfaces), "") for i in interfaces}
    return sorted(found - {""})


def live_run(tmp_path: Path, servers: list[str]) -> LiveRun:
    return LiveRun(
        tmp_path, "--variants", "builtin", "--variants", "streamcompat.servers.frameworks:VARIANTS",
        "--server", ",".join(servers), "--variant", ",".join(variants_for(servers)),
        "--network", "direct", "--clients", "requests,requests-lines", "--hold-window", HOLD_S,
        "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip


def command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def started_as(record_name: str, argv: list[str]) -> bool:
    """``argv`` is the server's command line (its port whatever the run picked)."""
    expected = server(record_name).argv(sys.executable, "PORT")
    if len(argv) < len(expected):
        return False
    return all(
        re.fullmatch(re.escape(want).replace("PORT", r"\d+"), got)
        for want, got in zip(expected, argv, strict=False)
    )


def servers_found(pids: set[int]) -> dict[str, set[int]]:
    """Each server's processes among ``pids``: its process group, led by its command."""
    groups: dict[int, set[int]] = {}
    for pid, fields in stat_fields().items():
        if pid in pids:
            groups.setdefault(int(fields[2]), set()).add(pid)
    return {
        name: members
        for leader, members in groups.items()
        for name in OWN
        if started_as(name, command(leader))
    }


def assert_every_server_seen(found: dict[str, set[int]], names: list[str]) -> None:
    counts = {n: len(found.get(n, ())) for n in names}
    short = {n: c for n, c in counts.items() if c < server(n).processes}
    assert not short, f"servers with fewer processes than they run: {short} (seen: {counts})"


@pytest.mark.skipif(not OWN, reason=f"no server besides uvicorn installed: {MISSING}")
@pytest.mark.parametrize(
    "sig", [None, signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["end", "INT", "TERM", "KILL"]
)
def test_every_server_and_its_workers_end_with_the_run(tmp_path: Path, sig: int | None) -> None:
    run = live_run(tmp_path, SERVED)
    pids = run.processes()
    assert_every_server_seen(servers_found(pids), OWN)
    end_run(run.process, sig, run.lines, pids)
    if sig in (signal.SIGINT, signal.SIGTERM):
        assert run.process.returncode == 128 + sig, "".join(run.lines)
    assert_all_gone(run.left())  # and none started since, wherever its parent is now


@pytest.mark.skipif(not WORKERS, reason=f"no server with workers installed: {MISSING}")
@pytest.mark.parametrize("sig", [None, signal.SIGKILL], ids=["end", "KILL"])
def test_the_workers_of_a_master_killed_outright_end_with_the_run(
    tmp_path: Path, sig: int | None
) -> None:
    # Measured: each of these servers' workers outlives its master's SIGKILL (> 15 s).
    # None: the run starts each master again, ending the old one's workers first;
    # SIGKILL: the harness dies too, and its warden ends the groups it was told of.
    run = live_run(tmp_path, WORKERS)
    pids = run.processes()
    found = servers_found(pids)
    assert_every_server_seen(found, WORKERS)
    for name in WORKERS:
        master = min(found[name], key=lambda pid: pid != os.getpgid(pid))  # the leader
        os.kill(master, signal.SIGKILL)
    end_run(run.process, sig, run.lines, pids, bound=240)
    assert_all_gone(run.left())
