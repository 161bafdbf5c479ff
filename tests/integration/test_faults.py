"""Hostile plug-ins (``tests/support/hostile_plugins.py``) against real runs: a server that dies is
restarted and named, a server that never answers or never ends costs a bounded window and
says so, and nothing of it reaches the console as a traceback or is left running."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.engine.runner import Stage, run_cell
from streamcompat.harness.engine.server import ServerProcess
from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.kernel.model import (
    Cell,
    Client,
    ClientFailed,
    Reporter,
    Request,
    Resources,
    Verdict,
)
from streamcompat.servers.variants import VARIANTS
from tests.support import CLI, ROOT, hostile_plugins
from tests.support.procs import marked

HOSTILE = "tests.support.hostile_plugins:VARIANTS"
CLIENTS = "curl,axios,requests"  # a command line, a Node client, a Python client
DEADLINE, HEAD_WINDOW = "6", "2"
#: Marks every process of one run (children inherit it), so that any left behind is found.
RUN_MARK = "STREAMCOMPAT_FAULTS_RUN"
QUIET = ("Traceback", "exception was never retrieved", "Task was destroyed")

pytestmark = pytest.mark.matrix


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Any, Any]:
    """Run the CLI (bounded); return its completed process and the index's cells by key."""
    mark = secrets.token_hex(8)
    results = tmp_path / "results"
    done = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results),
         "--deadline", DEADLINE, "--head-window", HEAD_WINDOW, "--clients", CLIENTS, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, **(env or {}), RUN_MARK: mark},
    )  # fmt: skip
    output = done.stdout + done.stderr
    for words in QUIET:
        assert words not in output, output
    assert not (results / "harness-errors.log").exists(), output
    assert_nothing_left(mark)
    cells: dict[str, dict[str, Any]] = {}
    if (results / "index.json").exists():
        for cell in json.loads((results / "index.json").read_text(encoding="utf-8"))["cells"]:
            cells[f"{cell['variant']} × {cell['client']}"] = cell
    return done, cells


def assert_nothing_left(mark: str) -> None:
    deadline = time.monotonic() + 15
    while marked(RUN_MARK, mark) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling /proc, bounded: processes end asynchronously
    assert not marked(RUN_MARK, mark), "processes of the run were left behind"


def died_of_the_kill(cell: dict[str, Any]) -> bool:
    detail = str(cell["detail"])
    return cell["verdict"] == "ERROR" and "the variant server died" in detail


def test_a_dying_server_is_named_restarted_and_the_cells_after_it_run_as_usual(
    tmp_path: Path,
) -> None:
    # One working cell at a time, so that each kills-server cell is (almost always) the
    # only one on its server: three deaths, three restarts.
    baseline = tmp_path / "baseline.json"
    expected = {"kills-server": "ERROR", "raw": "PASS", "sse": "CORRUPT"}
    cells = {
        f"{variant} × {client} × direct": verdict
        for variant, verdict in expected.items()
        for client in CLIENTS.split(",")
    }
    baseline.write_text(json.dumps({"schema": 1, "cells": cells}), encoding="utf-8")
    done, found = run(
        tmp_path, "--variants", HOSTILE, "--variants", "builtin", "--variant",
        "kills-server,raw,sse", "--network", "direct", "--jobs", "1",
        "--baseline", str(baseline),
    )  # fmt: skip
    killers = [c for key, c in found.items() if key.startswith("kills-server ×")]
    assert len(killers) == 3 and all(map(died_of_the_kill, killers)), killers
    for cell in killers:
        assert "(killed by SIGKILL; its log" in cell["detail"], cell["detail"]
        assert cell["duration_ms"] < float(DEADLINE) * 1000  # noticed, not timed out
    # Cells running at the moment of a death may die with it (they share the server);
    # every cell that started after the last death has its usual verdict.
    last_death = max(
        c["started_ms"] + c["duration_ms"] for c in found.values() if died_of_the_kill(c)
    )
    after = [(key, c) for key, c in found.items() if c["started_ms"] > last_death]
    assert after, "no cell started after the last death"
    for key, cell in after:
        assert cell["verdict"] == expected[cell["variant"]], (key, cell["detail"])
    # The exit code reflects regressions only: here, none unless a cell shared a death.
    shared = [k for k, c in found.items() if died_of_the_kill(c) and not k.startswith("kills")]
    assert done.returncode == (1 if shared else 0), done.stdout + done.stderr
    assert ("gate: ok" in done.stdout) == (not shared)


def test_no_head_and_no_end_cost_a_window_and_say_so(tmp_path: Path) -> None:
    done, found = run(
        tmp_path, "--variants", HOSTILE, "--variant", "never-answers,endless,raises-first",
        "--network", "direct",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr  # no baseline given
    for client in CLIENTS.split(","):
        silent = found[f"never-answers × {client}"]
        assert silent["verdict"] == "TIMEOUT"
        assert silent["detail"].startswith(
            f"no response head within {HEAD_WINDOW} s of the request reaching the server"
        ), silent["detail"]
        assert silent["duration_ms"] < float(DEADLINE) * 1000  # the head window, not the deadline
        endless = found[f"endless × {client}"]
        assert endless["verdict"] == "TIMEOUT"
        assert endless["detail"] == (
            f"the client had not finished at the {DEADLINE} s deadline: "
            "all 30 tokens surfaced, but the end of the stream never came"
        )
        early = found[f"raises-first × {client}"]
        assert early["verdict"] == "ERROR" and early["tokens_surfaced"] == 0, early["detail"]


@pytest.mark.skipif(bool(servers_unavailable(["gunicorn"])), reason="no gunicorn here")
def test_a_head_window_that_runs_out_while_tokens_are_held_back_starts_again(
    tmp_path: Path,
) -> None:
    """django-async under gunicorn's sync worker sends its head only once its body is
    whole. With the head window shorter than the hold window, the window runs out while
    the harness still holds token 2 back: that proves nothing of the server, so the rest
    goes at once and the window starts again; the head then comes, and the cell is judged
    on what the client did (BUFFERED at token 1), not cut short as TIMEOUT."""
    done, found = run(
        tmp_path, "--server", "gunicorn", "--variants", "streamcompat.servers.frameworks:VARIANTS",
        "--variant", "django-async", "--network", "direct", "--hold-window", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for client in CLIENTS.split(","):
        cell = found[f"django-async × {client}"]
        assert cell["verdict"] == "BUFFERED", cell["detail"]
        assert cell["stalled_at"] == 1 and cell["tokens_surfaced"] == 30, cell["detail"]


def test_a_cell_that_only_waits_for_its_end_lends_its_slot(tmp_path: Path) -> None:
    """One working slot (--jobs 1). An endless stream's cells have every token and wait
    for an end that never comes, until their deadline; they do so without the slot, so
    the raw cells start and end meanwhile, not after the deadlines."""
    done, found = run(
        tmp_path, "--variants", HOSTILE, "--variants", "builtin",
        "--variant", "endless,raw", "--network", "direct", "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    endless = [found[f"endless × {client}"] for client in CLIENTS.split(",")]
    first_end = min(c["started_ms"] + c["duration_ms"] for c in endless)
    for client in CLIENTS.split(","):
        assert found[f"endless × {client}"]["verdict"] == "TIMEOUT"
        raw = found[f"raw × {client}"]
        assert raw["verdict"] == "PASS", raw["detail"]
        assert raw["started_ms"] + raw["duration_ms"] < first_end, (raw, first_end)


def test_a_server_that_dies_again_at_start_ends_the_run_with_one_sentence(
    tmp_path: Path,
) -> None:
    mark = tmp_path / "broken-for-good"
    done, found = run(
        tmp_path, "--variants", HOSTILE, "--variants", "builtin",
        "--variant", "kills-server-for-good,raw", "--network", "direct",
        env={hostile_plugins.MARK_ENV: str(mark)},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert mark.exists()  # the plug-in did kill its server
    said = [line for line in done.stderr.splitlines() if line.startswith("streamcompat: the")]
    assert len(said) == 1, done.stderr
    assert said[0].startswith("streamcompat: the variant server died (killed by SIGKILL")
    assert "could not be restarted: the variant server exited with code 2" in said[0]
    assert "marked broken for good" in said[0]
    assert not found and done.stdout == ""  # no matrix, no column of ERRORs


def test_a_driver_that_raises_as_it_is_cancelled_prints_nothing() -> None:
    # What curl and axios cells once did at their deadline: the driver's task ended with
    # an exception nobody retrieved, and asyncio printed it with its traceback.
    async def stubborn(request: Request, report: Reporter, resources: Resources) -> None:
        report.requesting()
        try:
            await asyncio.Event().wait()  # never makes its request
        except asyncio.CancelledError:
            raise ClientFailed("gave up, loudly") from None

    async def main() -> tuple[Verdict, str, list[dict[str, Any]]]:
        unretrieved: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, c: unretrieved.append(c))
        client = Client("stubborn", "chunk", stubborn)
        settings = Settings(deadline=0.5, connect_window=10.0, jobs=1)
        async with ServerProcess(["builtin"], settings.tokens) as server:
            stage = Stage(server, Resources(browser_context=_no_browser), settings)
            cell = Cell(VARIANTS[0].name, client.name)
            result = await run_cell(cell, VARIANTS[0], client, server.origin, stage)
        gc.collect()  # a task's unretrieved exception is reported when it is collected
        return result.verdict, result.detail, unretrieved

    verdict, detail, unretrieved = asyncio.run(main())
    assert verdict is Verdict.TIMEOUT and "0.5 s deadline" in detail
    assert unretrieved == []


async def _no_browser() -> Any:
    raise ClientFailed("no browser in this test")
