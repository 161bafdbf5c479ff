"""Speed, cost and stability figures: run the matrix several times and print what it cost.

    python -m tools.bench [--runs 3] [--period-ms 50] [streamcompat run arguments]
    python -m tools.bench --oracle      # only the spec oracle's figure

Per run and summarised over runs (min / median / max): wall time, cells per second, the
median and p95 duration of a PASS cell (and the browser PASS cells' median), the delivery
lag the harness adds to Python clients, and CPU seconds per cell by role (the harness, the
variant server, the proxy, Chromium, Playwright's driver, Node clients, curl). Then whether
every run gave the same verdict in every cell. First, how long the spec oracle takes to
decode a 10 MiB event (bar: under 1 s). Figures only: nothing here asserts a time.

CPU comes from ``tools.proctree`` (/proc sampled every period, Linux); ``tools.stress`` runs
the matrix under CPU load with the same run-once and verdict diff.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamcompat.harness.kernel.model import Cell
from streamcompat.harness.kernel.verdicts import percentile
from streamcompat.harness.spec.sse_oracle import Event, SSEDecoder
from tools.proctree import PROC, ROLES, Cpu, sample_until_exit

END_BOUND_S = 20.0  # an interrupted run gets this long to end its servers and browser


class RunFailed(Exception):
    """A run ended without writing index.json (a usage error, a crash, an interrupt)."""


# --- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    returncode: int
    output: str  # the run's stdout and stderr
    index: dict[str, Any]
    cpu: Cpu | None = None

    def verdicts(self) -> dict[str, str]:
        return verdicts(self.index)

    def gate_failures(self, strict: bool = False) -> list[str]:
        return gate_failures(self.output, strict)


def run_once(run_args: Sequence[str], folder: Path, sample_period: float | None = None) -> Run:
    """One ``streamcompat run``; with ``sample_period``, its CPU by role is sampled too."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results"
    command = [
        sys.executable,
        "-m",
        "streamcompat.harness.cli",
        "run",
        "--quiet",
        "--results",
        str(results),
    ]
    cpu: Cpu | None = None
    began = time.monotonic()
    with (folder / "output.log").open("w+b") as log:
        process = subprocess.Popen(
            [*command, *run_args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if sample_period is not None and PROC.is_dir():
                cpu = sample_until_exit(process, sample_period)
            else:
                process.wait()
        finally:
            _end(process)
        wall = time.monotonic() - began
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert process.returncode is not None
    index_path = results / "index.json"
    if not index_path.exists():
        tail = "\n".join(output.splitlines()[-15:])
        raise RunFailed(f"streamcompat run exited {process.returncode} without results:\n{tail}")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    return Run(wall, process.returncode, output, index, cpu)


def _end(process: subprocess.Popen[bytes]) -> None:
    """If bench is leaving early, end the run by PID (SIGTERM: it ends its own children)."""
    if process.returncode is not None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(END_BOUND_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(END_BOUND_S)


# --- what the runs say ------------------------------------------------------------------


def verdicts(index: Mapping[str, Any]) -> dict[str, str]:
    """Cell key -> verdict, from an index.json."""
    names = [f.name for f in dataclasses.fields(Cell)]
    return {Cell(**{n: c[n] for n in names if n in c}).key: c["verdict"] for c in index["cells"]}


def verdict_changes(runs: Sequence[Mapping[str, str]]) -> dict[str, list[str | None]]:
    """Each cell whose verdict was not the same in every run: its verdict per run (None:
    the cell did not run)."""
    keys = dict.fromkeys(key for run in runs for key in run)
    per_run = {key: [run.get(key) for run in runs] for key in keys}
    return {key: found for key, found in per_run.items() if len(set(found)) > 1}


def describe_change(key: str, per_run: Sequence[str | None]) -> str:
    return f"{key}: " + ", ".join(v or "(not run)" for v in per_run)


def gate_failures(output: str, strict: bool = False) -> list[str]:
    """The lines for which a run's gate failed; none when it passed."""
    lines = output.splitlines()
    verdict = [line for line in lines if line.startswith("gate: FAILED")]
    if not verdict:
        return []
    failing = ("regression:", "missing:") + (("improvement:", "new:") if strict else ())
    return [line for line in lines if line.startswith(failing)] or verdict


def client_groups() -> dict[str, str]:
    """Client name -> group (python, browser, node, cli)."""
    from streamcompat.clients import (
        CLIENTS,  # the columns of the matrix; imported only when measuring
    )

    return {c.name: c.group for c in CLIENTS}


# --- figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One run's figures; None where a run has nothing to measure."""

    cells: int
    wall_s: float  # as bench saw it: start-up and reports included
    inside_s: float  # the run's own wall time (index.json)
    pass_median_ms: float | None
    pass_p95_ms: float | None
    browser_median_ms: float | None
    first_token_median_ms: float | None
    python_lag_p50_ms: float | None
    cpu: Cpu | None

    @property
    def cells_per_s(self) -> float | None:
        return self.cells / self.inside_s if self.inside_s else None

    def cpu_per_cell(self) -> dict[str, float] | None:
        if self.cpu is None or not self.cells:
            return None
        return {role: s / self.cells for role, s in self.cpu.by_role.items()}

    def rows(self) -> list[tuple[str, float | None]]:
        """Label and value of every figure, for the summary over runs."""
        per_cell = self.cpu_per_cell()
        cpu_rows: list[tuple[str, float | None]] = []
        if per_cell is not None:
            for role, label in ROLES.items():
                value = per_cell.get(role, 0.0)
                shown = value or role != "other"  # "other" only if something was left over
                cpu_rows.append((f"CPU s/cell {label}", value if shown else None))
            cpu_rows.append(("CPU ms/cell total", 1000 * sum(per_cell.values())))
        return [
            ("wall time (s)", self.wall_s),
            ("cells/s", self.cells_per_s),
            ("PASS median (ms)", self.pass_median_ms),
            ("PASS p95 (ms)", self.pass_p95_ms),
            ("browser PASS median (ms)", self.browser_median_ms),
            ("first token median (ms)", self.first_token_median_ms),
            ("Python lag p50 (ms)", self.python_lag_p50_ms),
            *cpu_rows,
        ]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def measure(run: Run, groups: Mapping[str, str]) -> Figures:
    cells = run.index["cells"]
    passing = [c for c in cells if c["verdict"] == "PASS"]
    durations = [c["duration_ms"] for c in passing]
    browser = [c["duration_ms"] for c in passing if groups.get(c["client"]) == "browser"]
    firsts = [c["first_token_ms"] for c in passing if c["first_token_ms"] is not None]
    python_lags = [
        c["lag_ms_p50"]
        for c in passing
        if groups.get(c["client"]) == "python" and c["lag_ms_p50"] is not None
    ]
    return Figures(
        cells=len(cells),
        wall_s=run.wall_s,
        inside_s=run.index["run"]["wall_s"],
        pass_median_ms=_median(durations),
        pass_p95_ms=percentile(durations, 95),
        browser_median_ms=_median(browser),
        first_token_median_ms=_median(firsts),
        python_lag_p50_ms=_median(python_lags),
        cpu=run.cpu,
    )


def number(value: float | None) -> str:
    """A figure with as many digits as its size deserves; '–' for none."""
    if value is None:
        return "–"
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:.{digits}f}"


def describe(k: int, figures: Figures, gate: Sequence[str]) -> str:
    """A run's figures, a few lines."""
    f = figures
    lines = [
        f"run {k}: {f.cells} cells in {number(f.wall_s)} s ({number(f.inside_s)} s inside "
        f"the run), {number(f.cells_per_s)} cells/s; gate " + ("FAILED" if gate else "ok"),
        *(f"  {line}" for line in gate),
        f"  PASS cells: median {number(f.pass_median_ms)} ms, p95 {number(f.pass_p95_ms)} ms, "
        f"browser median {number(f.browser_median_ms)} ms; first token median "
        f"{number(f.first_token_median_ms)} ms; Python-client lag p50 "
        f"{number(f.python_lag_p50_ms)} ms",
    ]
    per_cell = f.cpu_per_cell()
    if f.cpu is not None and per_cell is not None:
        roles = ", ".join(
            f"{ROLES[r]} {number(s)}" for r, s in per_cell.items() if s or r != "other"
        )
        total = sum(per_cell.values())
        lines += [
            f"  CPU s/cell: {roles}; total {number(total)} s ({number(1000 * total)} ms/cell)",
            f"  CPU of the run: {number(sum(f.cpu.by_role.values()))} s sampled, "
            f"{number(f.cpu.reaped_s)} s by wait4 (what the tree reaped itself); "
            f"the sampling cost bench {number(f.cpu.sampler_s)} s",
        ]
    return "\n".join(lines)


def summarise(runs: Sequence[Figures]) -> str:
    """min / median / max of every figure over the runs (a figure no run has is left out)."""
    table: dict[str, list[float]] = {}
    for figures in runs:
        for label, value in figures.rows():
            table.setdefault(label, [])
            if value is not None:
                table[label].append(value)
    width = max(len(label) for label in table)
    title = f"over {len(runs)} run" + "s" * (len(runs) != 1)
    lines = [f"{title:<{width}}  {'min':>8}  {'median':>8}  {'max':>8}"]
    for label, values in table.items():
        if values:
            low, mid, high = min(values), statistics.median(values), max(values)
            lines.append(f"{label:<{width}}  {number(low):>8}  {number(mid):>8}  {number(high):>8}")
    return "\n".join(lines)


def stability(changes: Mapping[str, Sequence[str | None]], runs: int) -> str:
    if not changes:
        return f"verdicts identical in all {runs} runs"
    shown = "; ".join(describe_change(k, v) for k, v in list(changes.items())[:10])
    more = f" (and {len(changes) - 10} more)" if len(changes) > 10 else ""
    return f"{len(changes)} cells changed between runs: {shown}{more}"


# --- the spec oracle ---------------------------------------------------------------------

ORACLE_EVENT_BYTES = 10 << 20
#: The event's shapes: one data line, and data lines of this many bytes with their field.
ORACLE_LINE_BYTES = 80
ORACLE_READS = (65536, 4096, 1024)


def oracle_event(size: int, line_bytes: int | None) -> tuple[bytes, Event]:
    """One event of ``size`` bytes on the wire, as one data line (``line_bytes`` None) or
    as data lines of ``line_bytes`` bytes each, and the event it must decode to."""
    if line_bytes is None:
        data = "x" * (size - len("data: \n\n"))
        return f"data: {data}\n\n".encode(), Event(data=data)
    value = "x" * (line_bytes - len("data: \n"))
    lines = (size - 1) // line_bytes
    return f"data: {value}\n".encode() * lines + b"\n", Event(data="\n".join([value] * lines))


def oracle_seconds(wire: bytes, event: Event, read: int) -> float:
    """Seconds the oracle takes over ``wire`` fed in reads of ``read`` bytes (it must give
    exactly ``event``)."""
    decoder = SSEDecoder()
    began = time.perf_counter()
    got = [e for k in range(0, len(wire), read) for e in decoder.feed(wire[k : k + read])]
    got += decoder.close()
    took = time.perf_counter() - began
    if got != [event]:
        raise AssertionError(f"the oracle decoded {len(got)} events, not the one expected")
    return took


def oracle_figures(size: int = ORACLE_EVENT_BYTES) -> list[str]:
    """The oracle's time per event shape and read size, a line each."""
    lines = []
    for line_bytes, shape in ((None, "one data line"), (ORACLE_LINE_BYTES, "80-byte data lines")):
        wire, event = oracle_event(size, line_bytes)
        times = ", ".join(
            f"{number(oracle_seconds(wire, event, read))} s in {read // 1024} KiB reads"
            for read in ORACLE_READS
        )
        lines.append(f"oracle: a {size / (1 << 20):g} MiB event as {shape}: {times}")
    return lines


# --- the command ---------------------------------------------------------------------------


def split_args(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, list[str]]:
    """This tool's options, and the rest for ``streamcompat run`` (all of it after ``--``)."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    own, rest = parser.parse_known_args(argv[:cut])
    return own, rest + argv[cut + 1 :]


def tool_parser(prog: str, runs: int) -> argparse.ArgumentParser:
    """The options bench and stress share; ``split_args`` hands the rest to the run."""
    parser = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,  # any other option goes to streamcompat run, unabbreviated
        epilog="Other arguments (or all after --) go to streamcompat run.",
    )
    parser.add_argument("--runs", type=int, default=runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = tool_parser("python -m tools.bench", runs=3)
    parser.add_argument(
        "--period-ms", type=float, default=50.0, help="how often /proc is sampled for CPU"
    )
    parser.add_argument(
        "--oracle", action="store_true", help="only the spec oracle's figure (no matrix run)"
    )
    args, run_args = split_args(parser, sys.argv[1:] if argv is None else argv)
    print("\n".join(oracle_figures()), flush=True)
    if args.oracle:
        return 0
    groups = client_groups()
    measured: list[Figures] = []
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="streamcompat-bench-") as tmp:
        for k in range(args.runs):
            try:
                run = run_once(run_args, Path(tmp) / str(k), args.period_ms / 1000)
            except RunFailed as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 2
            runs.append(run)
            measured.append(measure(run, groups))
            print(describe(k + 1, measured[-1], run.gate_failures()), flush=True)
    print(summarise(measured))
    print(
        f"CPU is sampled from /proc every {args.period_ms:.0f} ms: a process is undercounted "
        "by up to one period of its CPU, and one that lives less than a period may be "
        "missed. wait4 counts exactly what the harness and its children reaped, short-lived "
        "processes included, but not what init reaped (Chromium's zygotes)."
    )
    changes = verdict_changes([run.verdicts() for run in runs])
    print(stability(changes, args.runs))
    return 0 if not changes else 1


if __name__ == "__main__":
    sys.exit(main())
