"""Verdicts under load: the matrix several times while every core is kept busy.

    python -m tools.stress [--runs 5] [streamcompat run arguments]

CI runners are noisy; a verdict must not depend on load. Each run gets a bounded CPU
load — one busy-loop child per CPU — and this prints every cell whose verdict changed
between runs, every gate failure, and one summary line. Exit 1 on any of them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from streamcompat.harness.hosts.processes import STOP_BOUND_S, _die_with_parent
from streamcompat.harness.kernel.model import Verdict
from tools.bench import (
    RunFailed,
    describe_change,
    run_once,
    split_args,
    tool_parser,
    verdict_changes,
)

# A run of the default matrix takes minutes; the bound only matters if neither the
# `finally` nor PR_SET_PDEATHSIG ended a busy loop (the parent stopped, not killed).
LOAD_BOUND_S = 30 * 60.0
BUSY_LOOP = """\
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


@contextlib.contextmanager
def cpu_load(bound_s: float, workers: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``workers`` busy-loop children (one per CPU by default), each ending by itself after
    ``bound_s``, with its parent, or — at the latest — when the block exits (by PID)."""
    busy: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers or os.cpu_count() or 1):
            busy.append(
                subprocess.Popen(
                    [sys.executable, "-c", BUSY_LOOP, str(bound_s)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # a terminal's Ctrl-C is the run's, not theirs
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            )
        yield busy
    finally:
        for process in busy:
            process.kill()  # by PID; a busy loop has nothing to save
        for process in busy:
            process.wait(STOP_BOUND_S)


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser("python -m tools.stress", runs=5)
    args, run_args = split_args(parser, sys.argv[1:] if argv is None else argv)
    strict = "--strict" in run_args
    workers = os.cpu_count() or 1
    verdicts: list[dict[str, str]] = []
    failed_gates = 0
    with tempfile.TemporaryDirectory(prefix="streamcompat-stress-") as tmp:
        for k in range(1, args.runs + 1):
            # A fresh load per run: its bound need not guess how long all runs take.
            with cpu_load(LOAD_BOUND_S, workers) as load:
                try:
                    run = run_once(run_args, Path(tmp) / str(k))
                except RunFailed as exc:
                    print(f"stress: {exc}", file=sys.stderr)
                    return 2
                load_ended = any(process.poll() is not None for process in load)
            verdicts.append(run.verdicts())
            failures = run.gate_failures(strict)
            failed_gates += bool(failures)
            print(
                f"run {k}: {run_summary(verdicts[-1])} in {run.wall_s:.1f} s under load "
                f"({workers} busy loops); gate " + ("FAILED" if failures else "ok"),
                flush=True,
            )
            for line in failures:
                print(f"  {line}")
            if load_ended:
                print(f"  the load reached its bound ({LOAD_BOUND_S:.0f} s) before the run ended")
    changes = verdict_changes(verdicts)
    for key, per_run in changes.items():
        print(f"changed: {describe_change(key, per_run)}")
    print(
        f"{args.runs} runs under load: {len(changes)} verdict changes, {failed_gates} gate failures"
    )
    return 1 if changes or failed_gates else 0


def run_summary(verdicts: dict[str, str]) -> str:
    """'16 cells: 10 PASS, 6 CORRUPT', verdicts in their usual order."""
    counts = Counter(verdicts.values())
    order = [v.value for v in Verdict if v.value in counts] + sorted(
        set(counts) - {v.value for v in Verdict}
    )
    return f"{len(verdicts)} cells: " + ", ".join(f"{counts[v]} {v}" for v in order)


if __name__ == "__main__":
    sys.exit(main())
