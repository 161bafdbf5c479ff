"""nox -s bench and nox -s stress: roles, CPU by role, verdict changes, gate failures,
figures, and the bounded CPU load (real, by PID)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from streamcompat.harness.spec.sse_oracle import Event, parse
from tests.support.procs import alive
from tools import bench, stress
from tools.bench import (
    Figures,
    Run,
    describe,
    gate_failures,
    measure,
    number,
    oracle_event,
    oracle_figures,
    oracle_seconds,
    split_args,
    stability,
    summarise,
    verdict_changes,
    verdicts,
)
from tools.proctree import (
    TICKS_PER_S,
    Cpu,
    ProcessTree,
    Stat,
    parse_stat,
    role_of,
    sample_until_exit,
)
from tools.stress import cpu_load, run_summary

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="pidfd and /proc")

PYTHON = "/project/.venv/bin/python"
SITE = "/project/.venv/lib/python3.11/site-packages"


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        ([PYTHON, "-m", "streamcompat.harness.cli", "run", "--quiet"], "harness"),
        (["/usr/local/bin/streamcompat", "run"], "harness"),
        ([PYTHON, "-m", "streamcompat.servers", "--variants", "builtin", "--fd", "6"], "server"),
        (
            [PYTHON, "-X", "dev", "-m", "streamcompat.servers.app"],
            "server",
        ),  # a module of the package
        ([PYTHON, "-m", "serverside"], "other"),  # not the package
        (
            [PYTHON, "-m", "streamcompat.harness.engine.proxy", "--network", "split", "--fd", "6"],
            "proxy",
        ),
        (["/usr/lib/chromium/chromium", "--type=renderer", "--no-sandbox"], "chromium"),
        (["/bin/sh", "/usr/bin/chromium", "--headless"], "chromium"),
        (["/usr/lib/chromium/chromium --type=zygote --no-sandbox"], "chromium"),  # retitled
        (["/proc/self/exe", "--type=utility", "--utility-sub-type=network.mojom"], "chromium"),
        (["/ms-playwright/chromium_headless_shell-1/chrome-linux/headless_shell"], "chromium"),
        (
            [
                f"{SITE}/playwright/driver/node",
                f"{SITE}/playwright/driver/package/cli.js",
                "run-driver",
            ],
            "playwright",
        ),
        (["/usr/bin/node", "/work/clients/node/fetch.mjs", '{"url": "http://x"}'], "node"),
        (["/usr/bin/curl", "-q", "-N", "-sS", "--include"], "curl"),
        (["/usr/sbin/nginx", "-p", "/tmp/run", "-c", "/tmp/run/main.conf"], "real-proxy"),
        (["nginx: worker process"], "real-proxy"),  # retitled
        (["/usr/sbin/apache2", "-f", "/tmp/run/main.conf", "-DFOREGROUND"], "real-proxy"),
        (["/usr/bin/caddy", "run", "--config", "/tmp/run/Caddyfile"], "real-proxy"),
        (["/usr/sbin/haproxy", "-db", "-f", "/tmp/run/haproxy.cfg"], "real-proxy"),
        (["uvicorn", "myapp.main:app"], "other"),
        ([], "other"),
    ],
)
def test_role_of_a_command_line(argv: list[str], role: str) -> None:
    assert role_of(argv) == role


def test_parse_stat_with_spaces_and_parentheses_in_the_name() -> None:
    fields = ["S", "41", *["0"] * 9, "150", "25", "7", "7", *["0"] * 4, "98765", "0"]
    stat = parse_stat(f"42 (a (b) c) {' '.join(fields)}")
    assert stat == Stat(pid=42, ppid=41, started=98765, cpu_ticks=175, name="a (b) c")


class FakeProc:
    """A /proc to feed ProcessTree: stats and command lines by pid."""

    def __init__(self) -> None:
        self.stats: dict[int, Stat] = {}
        self.argvs: dict[int, list[str]] = {}

    def put(self, pid: int, ppid: int, ticks: int, argv: list[str], started: int = 1) -> None:
        self.stats[pid] = Stat(pid, ppid, started, ticks, "x")
        self.argvs[pid] = argv

    def observe(self, tree: ProcessTree) -> None:
        stat_of: Callable[[int], Stat | None] = self.stats.get
        tree.observe(sorted(self.stats), stat_of, lambda pid: self.argvs.get(pid, []))


HARNESS = ["python", "-m", "streamcompat.harness.cli", "run"]


def test_cpu_by_role_keeps_each_process_last_figure() -> None:
    proc, tree = FakeProc(), ProcessTree(root=500)
    proc.put(500, 1, 10, HARNESS)
    proc.put(20, 1, 99, ["sshd"])  # not the run's
    proc.put(501, 500, 5, ["python", "-m", "streamcompat.servers"])
    proc.put(30, 502, 3, ["/usr/lib/chromium/chromium", "--type=renderer"])  # listed first
    proc.put(502, 504, 4, ["/usr/lib/chromium/chromium"])
    proc.put(503, 500, 1, HARNESS)  # forked by the harness, not exec'd yet
    proc.put(504, 500, 1, ["/bin/sh", "/usr/bin/chromium"])  # Debian's launcher script
    proc.put(505, 504, 1, ["ls"])  # the launcher's helper: Chromium's
    proc.put(506, 500, 6, ["uvicorn", "myapp:app"])  # the harness's, but not its work
    proc.observe(tree)

    proc.put(500, 1, 30, HARNESS)
    proc.put(501, 500, 15, ["python", "-m", "streamcompat.servers"])
    proc.put(30, 1, 8, ["/usr/lib/chromium/chromium", "--type=renderer"])  # orphaned: stays
    del proc.stats[502]  # ended: its last figure counts
    proc.put(503, 500, 2, ["/usr/bin/curl", "-N"])  # exec'd
    proc.observe(tree)

    del proc.stats[501]
    proc.put(
        501, 20, 70, ["python", "-m", "streamcompat.servers"], started=9
    )  # pid reused, not the run's
    proc.observe(tree)

    cpu = tree.cpu_by_role()
    assert cpu["harness"] == 30 / TICKS_PER_S
    assert cpu["server"] == 15 / TICKS_PER_S
    assert cpu["chromium"] == (8 + 4 + 1 + 1) / TICKS_PER_S
    assert cpu["curl"] == 2 / TICKS_PER_S
    assert cpu["other"] == 6 / TICKS_PER_S


def test_a_fork_that_never_execs_is_its_parents() -> None:
    proc, tree = FakeProc(), ProcessTree(root=500)
    proc.put(500, 1, 10, HARNESS)
    proc.put(501, 500, 3, HARNESS)
    proc.observe(tree)
    del proc.stats[501]
    proc.observe(tree)
    assert tree.cpu_by_role()["harness"] == 13 / TICKS_PER_S


@linux_only
def test_sampling_a_real_tree() -> None:
    # The root waits for a child doing a fixed amount of work (not a time).
    child = "sum(range(3_000_000))"
    root = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", root])
    cpu = sample_until_exit(process, 0.02)
    assert process.returncode == 0
    assert cpu.by_role["other"] > 0  # the child, seen while it worked
    assert cpu.reaped_s > 0


def test_verdict_changes_name_each_cell_and_its_verdict_per_run() -> None:
    runs = [
        {"raw × curl × direct": "PASS", "sse × curl × direct": "CORRUPT"},
        {"raw × curl × direct": "BUFFERED", "sse × curl × direct": "CORRUPT"},
        {"raw × curl × direct": "PASS"},
    ]
    changes = verdict_changes(runs)
    assert changes == {
        "raw × curl × direct": ["PASS", "BUFFERED", "PASS"],
        "sse × curl × direct": ["CORRUPT", "CORRUPT", None],
    }
    assert verdict_changes(runs[:1] * 3) == {}
    assert stability({}, 3) == "verdicts identical in all 3 runs"
    assert "raw × curl × direct: PASS, BUFFERED, PASS" in stability(changes, 3)
    assert "sse × curl × direct: CORRUPT, CORRUPT, (not run)" in stability(changes, 3)


def test_verdicts_are_keyed_as_the_baseline_keys_cells() -> None:
    index = {"cells": [{"variant": "sse", "client": "curl", "network": "split", "verdict": "X"}]}
    assert verdicts(index) == {"sse × curl × split": "X"}


OUTPUT = """\
network: direct
variant  curl
raw      BUFFERED
4 cells: 3 PASS, 1 BUFFERED in 2.0 s; results in r/ (index.json, matrix.md, junit.xml)
regression: raw × curl × direct: PASS → BUFFERED (token 1 held back)
missing: sse × curl × direct: PASS → (cell not run)
improvement: raw × aiohttp × direct: CORRUPT → PASS (all tokens)
gate: FAILED against compat-baseline.json
"""


def test_gate_failures_are_the_failing_lines() -> None:
    assert gate_failures(OUTPUT) == [
        "regression: raw × curl × direct: PASS → BUFFERED (token 1 held back)",
        "missing: sse × curl × direct: PASS → (cell not run)",
    ]
    assert len(gate_failures(OUTPUT, strict=True)) == 3
    assert gate_failures("improvement: a × b × c: CORRUPT → PASS\ngate: ok against x") == []
    strict_only = "new: a × b × c: PASS (x)\ngate: FAILED against x.json"
    assert gate_failures(strict_only) == ["gate: FAILED against x.json"]


def test_split_args_passes_the_rest_to_streamcompat_run() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--runs", type=int, default=5)
    own, rest = split_args(parser, ["--runs", "2", "--jobs", "8", "--", "--runs", "x"])
    assert own.runs == 2
    assert rest == ["--jobs", "8", "--runs", "x"]


def cell(client: str, verdict: str, duration: float, lag: float | None) -> dict[str, object]:
    return {
        "variant": "raw",
        "client": client,
        "network": "direct",
        "verdict": verdict,
        "duration_ms": duration,
        "first_token_ms": 2.0,
        "lag_ms_p50": lag,
    }


GROUPS = {"aiohttp": "python", "httpx": "python", "browser-fetch": "browser", "curl": "cli"}


def test_measure_a_run() -> None:
    index = {
        "run": {"wall_s": 2.0},
        "cells": [
            cell("aiohttp", "PASS", 100, 1.0),
            cell("httpx", "PASS", 200, 3.0),
            cell("httpx", "BUFFERED", 1100, 900.0),  # not PASS: no figure
            cell("browser-fetch", "PASS", 400, 5.0),
            cell("curl", "PASS", 300, 7.0),
        ],
    }
    cpu = Cpu({"harness": 1.0, "chromium": 4.0, "other": 0.0}, 5.5, 0.1, 0.05)
    figures = measure(Run(2.5, 0, "", index, cpu), GROUPS)
    assert (figures.cells, figures.cells_per_s) == (5, 2.5)
    assert figures.pass_median_ms == 250
    assert figures.pass_p95_ms == 400
    assert figures.browser_median_ms == 400
    assert figures.python_lag_p50_ms == 2.0
    assert figures.cpu_per_cell() == {"harness": 0.2, "chromium": 0.8, "other": 0.0}


def test_measure_takes_medians_and_the_nearest_rank_p95_of_pass_cells_only() -> None:
    passing = [cell("httpx", "PASS", float(ms), None) for ms in range(1, 21)]  # 1..20 ms
    index = {"run": {"wall_s": 0.0}, "cells": [*passing, cell("curl", "ERROR", 999.0, 1.0)]}
    figures = measure(Run(1.0, 0, "", index), GROUPS)
    assert figures.cells == 21
    assert figures.pass_median_ms == 10.5  # the median of 1..20, not a percentile's rank
    assert figures.pass_p95_ms == 19  # nearest rank: the 19th of 20; not the maximum
    assert figures.python_lag_p50_ms is None  # no PASS cell measured one
    assert figures.browser_median_ms is None
    assert figures.cells_per_s is None  # a run that reports no time of its own
    assert figures.cpu_per_cell() is None


def test_measure_a_run_without_a_pass() -> None:
    index = {"run": {"wall_s": 1.0}, "cells": [cell("curl", "CORRUPT", 5.0, 1.0)]}
    figures = measure(Run(1.0, 1, "", index), GROUPS)
    assert (figures.pass_median_ms, figures.pass_p95_ms, figures.first_token_median_ms) == (
        None,
        None,
        None,
    )


def figures(wall: float, cpu: Cpu | None) -> Figures:
    return Figures(
        cells=10,
        wall_s=wall,
        inside_s=wall - 1,
        pass_median_ms=420.0,
        pass_p95_ms=1234.5,
        browser_median_ms=None,
        first_token_median_ms=1.5,
        python_lag_p50_ms=0.75,
        cpu=cpu,
    )


def test_numbers_get_the_digits_their_size_deserves() -> None:
    assert [number(v) for v in (None, 1234.5, 42.25, 4.25, 0.0523)] == [
        "–",
        "1234",
        "42.2",
        "4.25",
        "0.052",
    ]


def test_describe_a_run() -> None:
    cpu = Cpu(dict.fromkeys(("harness", "server", "other"), 0.0) | {"harness": 2.0}, 2.5, 0.1, 0.05)
    text = describe(1, figures(11.0, cpu), ["regression: x"])
    assert text.startswith("run 1: 10 cells in 11.0 s (10.0 s inside the run), 1.00 cells/s;")
    assert "gate FAILED\n  regression: x\n" in text
    assert "median 420 ms, p95 1234 ms, browser median – ms" in text
    assert "Python-client lag p50 0.750 ms" in text
    assert "CPU s/cell: harness 0.200, variant server 0.000; total 0.200 s (200 ms/cell)" in text
    assert "other" not in text  # only when something was left unclassified
    assert "CPU" not in describe(1, figures(11.0, None), [])


def test_summarise_min_median_max() -> None:
    cpu = Cpu({"harness": 1.0, "node": 3.0, "other": 0.0}, 4.0, 0.1, 0.05)
    text = summarise([figures(w, cpu) for w in (12.0, 10.0, 20.0)])
    rows = {line[:26].strip(): line[26:].split() for line in text.splitlines()}
    assert rows["over 3 runs"] == ["min", "median", "max"]
    assert rows["wall time (s)"] == ["10.0", "12.0", "20.0"]
    assert rows["CPU s/cell Node clients"] == ["0.300", "0.300", "0.300"]
    assert rows["CPU ms/cell total"] == ["400", "400", "400"]
    assert "browser PASS median (ms)" not in rows  # no run had a browser cell
    assert "CPU s/cell other" not in rows


def test_summarise_one_run_and_leave_out_figures_no_run_has() -> None:
    text = summarise([figures(5.0, None)])
    assert text.splitlines()[0].startswith("over 1 run ")
    assert "CPU" not in text and "browser PASS median" not in text
    assert any(line.split()[-3:] == ["420", "420", "420"] for line in text.splitlines())


def test_run_summary_counts_verdicts_in_their_order() -> None:
    found = {"a": "CORRUPT", "b": "PASS", "c": "PASS", "d": "SHINY"}
    assert run_summary(found) == "4 cells: 2 PASS, 1 CORRUPT, 1 SHINY"


@linux_only
def test_load_children_end_by_themselves_within_their_bound() -> None:
    with cpu_load(0.2, workers=2) as load:
        pids = [process.pid for process in load]
        for process in load:
            assert process.wait(30) == 0  # ended by itself: not killed
    assert not any(map(alive, pids))


@linux_only
def test_load_children_are_gone_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), cpu_load(60.0, workers=2) as load:
        pids = [process.pid for process in load]
        assert all(map(alive, pids))
        raise RuntimeError("the body failed")
    assert [process.returncode for process in load] == [-signal.SIGKILL] * 2
    assert not any(map(alive, pids))


def test_stress_reports_changes_and_gate_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = iter(["PASS", "BUFFERED", "PASS"])
    asked: list[list[str]] = []

    def run_once(run_args: list[str], folder: object) -> Run:
        asked.append(run_args)
        verdict = next(outcomes)
        output = "" if verdict == "PASS" else "regression: raw × curl × direct\ngate: FAILED"
        index = {"cells": [{"variant": "raw", "client": "curl", "network": "direct",
                            "verdict": verdict}]}  # fmt: skip
        return Run(1.0, 0 if verdict == "PASS" else 1, output, index)

    @contextlib.contextmanager
    def no_load(bound_s: float, workers: int | None = None) -> Iterator[list[object]]:
        yield []

    monkeypatch.setattr(stress, "run_once", run_once)
    monkeypatch.setattr(stress, "cpu_load", no_load)
    assert stress.main(["--runs", "3", "--jobs", "8"]) == 1
    assert asked == [["--jobs", "8"]] * 3
    out = capsys.readouterr().out
    assert "run 2: 1 cells: 1 BUFFERED in 1.0 s under load" in out
    assert "\n  regression: raw × curl × direct\n" in out
    assert "changed: raw × curl × direct: PASS, BUFFERED, PASS\n" in out
    assert out.endswith("3 runs under load: 1 verdict changes, 1 gate failures\n")


@pytest.mark.parametrize("line_bytes", [None, 80])
def test_the_oracles_event_has_its_size_and_shape(line_bytes: int | None) -> None:
    wire, event = oracle_event(64 * 1024, line_bytes)
    assert 64 * 1024 - (line_bytes or 0) <= len(wire) <= 64 * 1024
    assert parse(wire) == [event]
    if line_bytes is not None:
        assert {len(line) for line in wire.split(b"\n")[:-2]} == {line_bytes - 1}


def test_the_oracle_figure_is_only_taken_of_a_right_decoding() -> None:
    wire, event = oracle_event(4096, None)
    assert oracle_seconds(wire, event, 100) >= 0
    with pytest.raises(AssertionError, match="not the one expected"):
        oracle_seconds(wire, Event(data="other"), 100)


def test_the_oracle_figures_name_each_shape_and_read_size() -> None:
    lines = oracle_figures(64 * 1024)
    assert [line.split(":")[1].strip() for line in lines] == [
        "a 0.0625 MiB event as one data line",
        "a 0.0625 MiB event as 80-byte data lines",
    ]
    assert all(line.count(" s in ") == len(bench.ORACLE_READS) for line in lines)


def test_bench_oracle_prints_the_figure_and_runs_no_matrix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(*args: object, **kwargs: object) -> Run:
        raise AssertionError("--oracle ran the matrix")

    monkeypatch.setattr(bench, "run_once", no_run)
    monkeypatch.setattr(bench, "oracle_figures", lambda: oracle_figures(4096))
    assert bench.main(["--oracle"]) == 0
    assert capsys.readouterr().out.count("oracle: a ") == 2
