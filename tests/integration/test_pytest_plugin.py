"""The pytest plugin, used the way a framework's own test suite uses it.

The real-run test writes a small user project (a plug-in variant in a module beside its
tests, a test that gates it on a baseline) and runs pytest on it in this process, with
the plugin loaded by ``-p`` as the ``pytest11`` entry point would load it: the baseline
is written with ``--streamcompat-update``, the suite then passes, and fails naming the
one cell whose baseline verdict was changed. Every process the runs started is gone
after each. The gate's rules are checked on recorded results, without a run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness.front import availability
from streamcompat.harness.front.availability import servers_unavailable
from streamcompat.harness.front.selection import Request
from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from streamcompat.harness.pytest_plugin import CompatRun, CompatRunner
from tests.support.procs import alive, descendants

pytest_plugins = ["pytester"]

PLUGIN = "streamcompat.harness.pytest_plugin"

# What a user writes: the variant in its own module (beside the tests, no __init__.py,
# so only pytest's sys.path finds it), and a test that gates it.
USER_VARIANTS = """
from streamcompat import SSE_END, framed, sse

VARIANTS = [framed("mine", "text/event-stream", sse, end=SSE_END)]
"""
USER_TEST = """
def test_streaming_is_compatible(streamcompat_run):
    run = streamcompat_run(
        "my_streaming:VARIANTS",
        clients="httpx-sse,requests-sseclient,aiohttp",
        networks="direct",
        baseline="tests/compat.json",
        results="results",
    )
    assert run.verdicts  # the run happened; the gate is the call's own assertion
"""
# httpx-sse and sseclient-py parse the events; aiohttp's byte reader shows the framing.
EXPECTED = {
    "mine × aiohttp × direct": "CORRUPT",
    "mine × httpx-sse × direct": "PASS",
    "mine × requests-sseclient × direct": "PASS",
}


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Only the plugin named by -p: the same whether or not the entry point is installed.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # reports are written: not there
    pytester.makepyfile(**{"tests/my_streaming": USER_VARIANTS, "tests/test_compat": USER_TEST})
    return pytester


class Started:
    """PIDs of every process started through ``subprocess.Popen`` while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pids: list[int] = []
        pids = self.pids

        class Recorded(subprocess.Popen):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                pids.append(self.pid)

        monkeypatch.setattr(subprocess, "Popen", Recorded)


def run_suite(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[int]]:
    """Run the user's suite in this process; return its result and the PIDs it started,
    having checked that none of them, nor anything else below this process, outlived it."""
    before = descendants(os.getpid())
    with pytest.MonkeyPatch.context() as patch:
        started = Started(patch)
        result = project.runpytest_inprocess("-p", PLUGIN, "-p", "no:cacheprovider", *args)
    # The runner ends every child by PID and reaps it before the run returns: no wait.
    left = [pid for pid in [*started.pids, *(descendants(os.getpid()) - before)] if alive(pid)]
    assert not left, f"processes left behind: {left}\n{result.stdout.str()}"
    return result, started.pids


@pytest.mark.matrix
def test_a_users_suite_writes_then_passes_then_fails_naming_the_changed_cell(
    user_project: pytest.Pytester,
) -> None:
    baseline = user_project.path / "tests" / "compat.json"

    written, started = run_suite(user_project, "--streamcompat-update")
    written.assert_outcomes(passed=1)
    assert started, "the run should have started a variant server"
    assert json.loads(baseline.read_text(encoding="utf-8"))["cells"] == EXPECTED
    written.stdout.fnmatch_lines(["*baseline written: *compat.json (3 cells)*"])

    matching, _ = run_suite(user_project)
    matching.assert_outcomes(passed=1)
    index = json.loads((user_project.path / "results" / "index.json").read_text("utf-8"))
    assert {f"{c['variant']} × {c['client']} × {c['network']}" for c in index["cells"]} == set(
        EXPECTED
    )
    assert (user_project.path / "results" / "report.html").exists()

    # The baseline now expects aiohttp's byte reader to show the tokens: the cell regresses.
    baseline.write_text(
        json.dumps({"schema": 1, "cells": {**EXPECTED, "mine × aiohttp × direct": "PASS"}}),
        encoding="utf-8",
    )
    failing, _ = run_suite(user_project)
    failing.assert_outcomes(failed=1)
    output = failing.stdout.str()
    assert "streamcompat: 1 cell(s) differ from" in output
    failing.stdout.fnmatch_lines(["*regression: mine × aiohttp × direct: PASS → CORRUPT (*"])
    # Only the changed cell is named (pytest may repeat it in its short summary, whose
    # width follows the terminal; count cells, not lines).
    named = set(re.findall(r"(?:regression|improvement|missing): (\S+ × \S+ × direct)", output))
    assert named == {"mine × aiohttp × direct"}, output
    assert "--streamcompat-update" in output


def test_a_client_this_machine_lacks_is_skipped_not_failed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PATH", "/nonexistent")  # no curl: its client cannot run
    pytester.makepyfile(
        test_compat="""
        def test_curl_only(streamcompat_run):
            streamcompat_run("builtin", clients="curl", networks="direct", only="raw")
        """
    )
    result, started = run_suite(pytester)
    result.assert_outcomes(skipped=1)
    assert not started  # nothing to run: no server either
    result.stdout.fnmatch_lines(["*skipped curl: curl not installed*"])


def test_a_variant_whose_library_is_missing_is_skipped_not_failed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        needs_extra="""
        from streamcompat import Variant, raw, streaming

        VARIANTS = [Variant("extra", streaming(raw, "text/plain"), modules=("no_such_xyz",))]
        """,
        test_compat="""
        def test_gate(streamcompat_run):
            streamcompat_run("needs_extra:VARIANTS", clients="httpx", networks="direct")
        """,
    )
    result, started = run_suite(pytester)
    result.assert_outcomes(skipped=1)
    assert not started
    result.stdout.fnmatch_lines(["*skipped variant extra: no_such_xyz not installed*"])


def test_a_plugin_that_does_not_import_fails_in_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        test_compat="""
        def test_gate(streamcompat_run):
            streamcompat_run("no_such_module_xyz:VARIANTS", clients="httpx-sse")
        """
    )
    result, started = run_suite(pytester)
    result.assert_outcomes(failed=1)
    assert not started
    result.stdout.fnmatch_lines(["*streamcompat: 'no_such_module_xyz:VARIANTS': cannot import*"])
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()


def test_a_missing_baseline_fails_before_running_anything(
    user_project: pytest.Pytester,
) -> None:
    result, started = run_suite(user_project)
    result.assert_outcomes(failed=1)
    assert not started
    result.stdout.fnmatch_lines(
        ["*no baseline at *compat.json; write it with `pytest --streamcompat-update`*"]
    )


SERVERS_TEST = """
def test_under_servers(streamcompat_run):
    run = streamcompat_run(
        "builtin", only="raw", clients="httpx", networks="direct", servers="uvicorn,hypercorn",
        baseline={"raw × httpx × direct": "PASS", "raw@hypercorn × httpx × direct": "PASS"},
        strict=True,
    )
    assert run["raw@hypercorn", "httpx", "direct"].cell.server == "hypercorn"
"""


@pytest.mark.skipif(bool(servers_unavailable(["hypercorn"])), reason="hypercorn not installed")
def test_servers_are_named_as_the_cli_names_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `--server uvicorn,hypercorn`: the relay under hypercorn, its cells keyed
    # raw@hypercorn; strict, so a cell of another server would fail as new.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_compat=SERVERS_TEST)
    result, started = run_suite(pytester)
    result.assert_outcomes(passed=1)
    assert started


def test_an_unknown_server_fails_in_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        test_compat="""
        def test_gate(streamcompat_run):
            streamcompat_run("builtin", clients="httpx", servers="tomcat")
        """
    )
    result, started = run_suite(pytester)
    result.assert_outcomes(failed=1)
    assert not started
    result.stdout.fnmatch_lines(["*streamcompat: *tomcat*"])
    assert "Traceback" not in result.stdout.str()


def test_a_server_not_installed_is_skipped_and_its_cells_not_compared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        availability,
        "servers_unavailable",
        lambda names: {n: "not here" for n in names if n == "granian"},
    )
    runner = CompatRunner()
    request = Request.of(["builtin"], variants="raw", clients="httpx", networks="direct",
                         servers="uvicorn,granian")  # fmt: skip
    matrix, skipped, not_run = runner._matrix(["builtin"], request)
    assert [c.key for c in matrix.cells()] == ["raw × httpx × direct"]
    assert skipped == {"granian": "not here"}
    assert not_run == {"raw@granian × httpx × direct"}
    assert "skipped server granian: not here" in runner.notices


# --- the gate's rules, on recorded results ---------------------------------------------


def recorded(verdicts: dict[str, str], **run: Any) -> CompatRun:
    results = []
    for key, verdict in verdicts.items():
        facts = Facts(tokens=["a"])
        cell = Cell.from_key(key)
        results.append(
            Result(cell, Verdict(verdict), f"detail of {key}", None, None, None, 0.0, facts)
        )
    return CompatRun(results, **run)


def failure(run: CompatRun, baseline: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as raised:
        run.assert_matches(baseline, **kwargs)
    return str(raised.value)


def test_a_regression_is_named_with_old_new_and_detail() -> None:
    run = recorded({**EXPECTED, "mine × aiohttp × direct": "SILENT"})
    message = failure(run, EXPECTED)
    assert message.splitlines() == [
        "streamcompat: 1 cell(s) differ from the expected verdicts:",
        "  regression: mine × aiohttp × direct: CORRUPT → SILENT "
        "(detail of mine × aiohttp × direct)",
    ]


def test_improvements_and_new_cells_fail_only_when_strict() -> None:
    run = recorded({**EXPECTED, "mine × aiohttp × direct": "PASS", "mine × curl × direct": "PASS"})
    run.assert_matches(EXPECTED)
    message = failure(run, EXPECTED, strict=True)
    assert "improvement: mine × aiohttp × direct: CORRUPT → PASS" in message
    assert "new: mine × curl × direct: PASS" in message


def test_missing_cells_fail_a_full_run_not_a_restricted_one() -> None:
    fewer = {k: v for k, v in EXPECTED.items() if "aiohttp" not in k}
    message = failure(recorded(fewer), EXPECTED)
    assert "missing: mine × aiohttp × direct: CORRUPT → (cell not run)" in message
    recorded(fewer, partial=True).assert_matches(EXPECTED)


def test_a_skipped_clients_cells_are_not_compared() -> None:
    fewer = {k: v for k, v in EXPECTED.items() if "aiohttp" not in k}
    run = recorded(
        fewer,
        skipped={"aiohttp": "not installed"},
        skipped_keys=frozenset({"mine × aiohttp × direct"}),
    )
    run.assert_matches(EXPECTED)


def test_no_baseline_file_fails_saying_how_to_write_one(tmp_path: Path) -> None:
    message = failure(recorded(EXPECTED, root=tmp_path), "compat.json")
    assert f"no baseline at {tmp_path / 'compat.json'}" in message
    assert "pytest --streamcompat-update" in message


def test_update_keeps_the_cells_it_did_not_run(tmp_path: Path) -> None:
    path = tmp_path / "compat.json"
    other = {"theirs × curl × direct": "PASS", "mine × aiohttp × direct": "ERROR"}
    path.write_text(json.dumps({"schema": 1, "cells": other}), encoding="utf-8")
    recorded(EXPECTED, partial=True, update=True, root=tmp_path).assert_matches("compat.json")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert cells == {**EXPECTED, "theirs × curl × direct": "PASS"}
    # A full run's cells are all there are: the other variant's cell goes.
    recorded(EXPECTED, update=True, root=tmp_path).assert_matches("compat.json")
    assert json.loads(path.read_text(encoding="utf-8"))["cells"] == EXPECTED
