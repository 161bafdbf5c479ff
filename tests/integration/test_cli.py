"""The command line as users meet it: what it lists, and clear errors for bad input."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from streamcompat.harness import cli as cli_module
from streamcompat.harness.engine.server import ServerProcess
from tests.support import CLI, ROOT
from tests.support.procs import alive


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_list_shows_the_matrix_dimensions() -> None:
    out = cli("list").stdout
    counts = {
        line.split(" (")[0]: int(line.split("(")[1].split(")")[0])
        for line in out.splitlines()
        if line and not line.startswith(" ")
    }
    assert counts["variants"] >= 14 and counts["clients"] >= 12 and counts["networks"] == 14
    assert counts["scenarios"] == 6
    for name in ("sse-naive", "openai", "ndjson", "gzip", "browser-fetch-sse", "curl", "split",
                 "browser-xhr", "browser-axios", "browser-axios-progress", "browser-axios-fetch",
                 "browser-fetch-event-source",
                 "nginx", "nginx-gzip", "caddy", "caddy-encode", "haproxy", "apache",
                 "apache-deflate", "real", "nginx-h2", "caddy-h2", "direct-tls", "tls",
                 "httpx-h2", "curl-h2",
                 "abort", "error", "error-first", "many", "keep-alive"):  # fmt: skip
        assert f"  {name} " in out
    # One name column: the longest client name still leaves a space before its group.
    assert "  browser-fetch-event-source browser  event " in out
    assert "proxy buffering on" in out  # what nginx does by default, said where it is listed


def test_unknown_names_are_usage_errors_without_tracebacks() -> None:
    for args in (
        ["--clients", "netscape"],
        ["--variant", "nope"],
        ["--network", "carrier-pigeon"],
        ["--scenario", "meteor"],
    ):
        run = cli("run", *args)
        assert run.returncode == 2, args
        assert "unknown" in run.stderr and "Traceback" not in run.stderr


def test_json_and_html_copies(tmp_path: Path) -> None:
    out, html = tmp_path / "out.json", tmp_path / "deep" / "report.html"
    args = ["--variant", "raw", "--clients", "requests", "--network", "direct", "--quiet"]
    run = cli(
        "run", *args, "--results", str(tmp_path / "r"), "--json", str(out), "--html", str(html)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"verdict": "PASS"' in out.read_text(encoding="utf-8")
    assert 'class="timeline"' in html.read_text(encoding="utf-8")
    for name in ("index.json", "matrix.md", "junit.xml", "report.html"):
        assert (tmp_path / "r" / name).exists()


def test_a_usage_error_found_after_the_server_began_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The variant server begins before the harness has read the rest of its options, so
    # that its imports overlap the harness's; a usage error found then must end it (by
    # the harness, not merely by its parent-death signal once the harness exits).
    begun: list[subprocess.Popen[bytes]] = []
    real_begin = ServerProcess.begin

    def begin(server: ServerProcess) -> None:
        real_begin(server)
        assert server.process is not None
        begun.append(server.process)

    monkeypatch.setattr(ServerProcess, "begin", begin)
    args = cli_module.parser().parse_args(["run", "--clients", "netscape"])
    with pytest.raises(cli_module.UsageError, match="unknown"):
        asyncio.run(cli_module.run_command(args))
    assert len(begun) == 1
    assert begun[0].returncode is not None  # ended and reaped by the harness
    assert not alive(begun[0].pid)
