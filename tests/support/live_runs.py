"""Runs of the CLI that are ended while cells run (a signal) or let end: their processes
found through /proc (below the harness, and by the run's own marker), then checked gone."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.support import CLI, ROOT
from tests.support.app_runs import RUN_MARK
from tests.support.procs import alive, descendants, marked


class LiveRun:
    """``streamcompat run --results tmp_path ARGS`` started; ``first_cell`` is set once a
    cell has a verdict. Every process of the run carries ``mark`` in its environment."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.mark = uuid.uuid4().hex
        self.process = subprocess.Popen(
            [*CLI, "run", "--results", str(tmp_path), *args],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**(os.environ if env is None else env), RUN_MARK: self.mark},
        )  # fmt: skip
        self.first_cell = threading.Event()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if line.startswith("[  1/"):
                self.first_cell.set()

    def processes(self, bound: float = 120) -> set[int]:
        """The PIDs of the run once a cell ran: below the harness, and marked as the run's."""
        assert self.first_cell.wait(bound), f"no cell finished within {bound:g} s"
        found = descendants(self.process.pid) | marked(RUN_MARK, self.mark)
        assert found, "the run should have started a server"
        return found

    def left(self) -> set[int]:
        """The run's processes still alive, wherever they are now (reparented or not)."""
        return marked(RUN_MARK, self.mark)


def start(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], threading.Event, list[str]]:
    """Start the CLI; the event is set once its first cell has a verdict."""
    run = LiveRun(tmp_path, *args, env=env)
    return run.process, run.first_cell, run.lines


def run_processes(process: subprocess.Popen[str], first_cell: threading.Event) -> set[int]:
    """The PIDs under the harness once a cell ran: the server, Playwright, Chromium."""
    assert first_cell.wait(120), "no cell finished within 120 s"
    found = descendants(process.pid)
    assert found, "the run should have started a server and a browser"
    return found


def assert_all_gone(pids: set[int], bound: float = 15) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and any(map(alive, pids)):
        time.sleep(0.05)  # polling /proc, bounded: processes end asynchronously
    assert not [p for p in pids if alive(p)], "processes of the run were left behind"


def end_run(
    process: subprocess.Popen[str],
    sig: int | None,
    lines: list[str],
    pids: set[int],
    bound: float = 120,
) -> None:
    """End the run ``sig``'s way (None: let it end by itself, with exit code 0), then check
    that none of ``pids`` is left."""
    if sig is None:
        assert process.wait(bound) == 0, "".join(lines)
    else:
        process.send_signal(sig)
        process.wait(60)
    assert_all_gone(pids)
