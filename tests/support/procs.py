"""The processes of a run, found by PID through /proc."""

from __future__ import annotations

import os
from pathlib import Path


def stat_fields() -> dict[int, list[str]]:
    """Every process's /proc/PID/stat fields after its command name, by PID (state,
    parent, process group, ...)."""
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses; fields follow the last ')'.
            found[int(entry.name)] = stat[stat.rindex(")") + 2 :].split()
    return found


def group_members(group: int) -> list[int]:
    """The live processes of process group ``group``."""
    return [pid for pid, f in stat_fields().items() if int(f[2]) == group and alive(pid)]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren, ...)."""
    parents = {child: int(fields[1]) for child, fields in stat_fields().items()}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def marked(variable: str, mark: str) -> set[int]:
    """Live processes whose environment holds ``variable=mark``: every process of a run
    that set it (children inherit it), whatever their parent now is."""
    needle = f"{variable}={mark}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0") and alive(int(entry.name)):
                found.add(int(entry.name))
    return found


def program(pid: int) -> str:
    """The file name of the program ``pid`` runs ("" once it has exited: a short-lived
    helper may be gone between being found and being looked at)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return ""
