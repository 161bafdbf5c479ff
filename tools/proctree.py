"""A run's processes by role and their CPU, sampled from /proc (Linux): bench's meter.

CPU is measured by sampling /proc for the run's process tree every period; the run's own
figure is read from its final /proc entry before it is reaped.
"""

from __future__ import annotations

import os
import resource
import select
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# CPU roles, in print order, with their labels.
ROLES = {
    "harness": "harness",
    "server": "variant server",
    "proxy": "proxy",
    "real-proxy": "real proxy",
    "chromium": "Chromium",
    "playwright": "Playwright driver",
    "node": "Node clients",
    "curl": "curl",
    "other": "other",
}
SERVERS = "streamcompat.servers"  # the variant server's package
#: The real proxies' programs; nginx retitles its processes ("nginx: worker process").
REAL_PROXIES = frozenset({"nginx", "nginx:", "caddy", "haproxy", "apache2"})
SHELLS = frozenset({"sh", "bash", "dash"})  # Debian's /usr/bin/chromium is a shell script


# --- processes by role --------------------------------------------------------------------


def role_of(argv: Sequence[str]) -> str:
    """The role of a process of a run, from its command line."""
    # Chromium retitles its helpers: one argv entry holding the whole line, spaces and all.
    words = [word for arg in argv for word in arg.split()]
    if not words:
        return "other"
    program = os.path.basename(words[0])
    if program in SHELLS and len(words) > 1:
        program = os.path.basename(words[1])
    modules = {words[i + 1] for i, word in enumerate(words[:-1]) if word == "-m"}
    if any(m == SERVERS or m.startswith(f"{SERVERS}.") for m in modules):
        return "server"
    if "streamcompat.harness.engine.proxy" in modules:
        return "proxy"
    if "streamcompat.harness.cli" in modules or program == "streamcompat":
        return "harness"
    if "chrom" in program or program == "headless_shell":
        return "chromium"
    if words[0] == "/proc/self/exe" and any(w.startswith("--type=") for w in words):
        return "chromium"  # a helper Chromium started from its own binary (network service)
    if program.startswith("node"):
        return "playwright" if "run-driver" in words else "node"
    if program == "curl":
        return "curl"
    if program in REAL_PROXIES:
        return "real-proxy"
    return "other"


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat a sample needs."""

    pid: int
    ppid: int
    started: int  # clock ticks after boot: with the pid, it names one process
    cpu_ticks: int  # utime + stime, all threads
    name: str  # comm: what is left of a zombie's command line


def parse_stat(text: str) -> Stat:
    # The name may hold spaces and parentheses; the fields follow the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    name = text[text.index("(") + 1 : text.rindex(")")]
    return Stat(
        pid=int(text[: text.index(" ")]),
        ppid=int(fields[1]),
        started=int(fields[19]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        name=name,
    )


Key = tuple[int, int]  # pid and start time: one process, even if its pid is reused later


@dataclass
class ProcessTree:
    """The processes under one root, each with its role and its last CPU figure.

    Fed listings of /proc: a process belongs if it is the root, was seen in the tree
    before (it stays, even reparented), or its parent belongs. Only the last figure of
    each process is kept, so a process is undercounted by what it used after its last
    sample, and one that lived less than a period may be missed.
    """

    root: int
    roles: dict[Key, str] = field(default_factory=dict)
    cpu_ticks: dict[Key, int] = field(default_factory=dict)
    argvs: dict[Key, list[str]] = field(default_factory=dict)
    unsettled: set[Key] = field(default_factory=set)  # forks that have not exec'd yet
    outside: set[int] = field(default_factory=set)  # listed pids known not to belong

    def observe(
        self, listed: Iterable[int], stat_of: Callable[[int], Stat | None],
        argv_of: Callable[[int], list[str]],
    ) -> None:  # fmt: skip
        pids = set(listed)
        self.outside &= pids  # a pid that left the listing may come back as another process
        stats = {s.pid: s for pid in pids - self.outside if (s := stat_of(pid)) is not None}
        members = [p for p, s in stats.items() if p == self.root or (p, s.started) in self.roles]
        belong = {self.root, *members}
        joined = members
        while joined:  # parents before children, whatever the listing order
            joined = [p for p, s in stats.items() if p not in belong and s.ppid in belong]
            belong.update(joined)
            members += joined
        self.outside |= stats.keys() - belong
        for pid in members:
            stat = stats[pid]
            key = (pid, stat.started)
            if key not in self.roles or key in self.unsettled:
                parent = stats.get(stat.ppid)
                parent_key = None if parent is None else (parent.pid, parent.started)
                self._classify(key, argv_of(pid) or [stat.name], parent_key)
            self.cpu_ticks[key] = stat.cpu_ticks

    def _classify(self, key: Key, argv: list[str], parent: Key | None) -> None:
        self.argvs[key] = argv
        self.unsettled.discard(key)
        inherited = self.roles.get(parent) if parent else None
        if key[0] == self.root:
            self.roles[key] = "harness"
        elif inherited and parent and argv == self.argvs[parent]:
            # Forked, not exec'd (yet): its parent's, until it shows a command line of its own.
            self.roles[key] = inherited
            self.unsettled.add(key)
        else:
            role = role_of(argv)
            if role == "other" and inherited and inherited != "harness":
                role = inherited  # a helper of a browser or client (the Chromium launcher's)
            self.roles[key] = role

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds per role."""
        found = dict.fromkeys(ROLES, 0.0)
        for key, ticks in self.cpu_ticks.items():
            found[self.roles[key]] += ticks / TICKS_PER_S
        return found


def _stat(pid: int) -> Stat | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # it ended between the listing and the read


def _argv(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _listing() -> list[int]:
    return [int(name) for name in os.listdir(PROC) if name.isdigit()]


@dataclass(frozen=True)
class Cpu:
    by_role: dict[str, float]  # CPU seconds, sampled (the harness's own: its final figure)
    reaped_s: float  # wait4: the harness and every process it (or they) reaped, exactly
    sampler_s: float  # what this sampling cost bench itself
    period_s: float


def sample_until_exit(process: subprocess.Popen[bytes], period: float) -> Cpu:
    """Sample ``process``'s tree every ``period`` until it exits, then reap it."""
    tree = ProcessTree(process.pid)
    own_before = _own_cpu_s()
    exited = os.pidfd_open(process.pid)  # readable once the run has exited (not reaped)
    try:
        while True:
            tree.observe(_listing(), _stat, _argv)
            ready, _, _ = select.select([exited], [], [], period)
            if ready:
                break
    finally:
        os.close(exited)
    tree.observe(_listing(), _stat, _argv)  # a zombie still shows its final figure
    sampler = _own_cpu_s() - own_before
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return Cpu(tree.cpu_by_role(), usage.ru_utime + usage.ru_stime, sampler, period)


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
