"""A run leaves no process behind: on success, on a failing cell, on SIGTERM, Ctrl-C and
even SIGKILL of the harness."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from streamcompat.harness.hosts.firefox import missing as firefox_missing
from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.hosts.webkit import missing as webkit_missing
from tests.support import CLI, ROOT
from tests.support.live_runs import assert_all_gone, end_run, run_processes, start
from tests.support.procs import program


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_run_ends_server_and_browser(tmp_path: Path, sig: int, code: int) -> None:
    process, first_cell, lines = start(tmp_path)
    pids = run_processes(process, first_cell)
    assert len(pids) >= 3  # uvicorn, Playwright's driver, Chromium (and its helpers)
    process.send_signal(sig)
    assert process.wait(60) == code, "".join(lines)
    assert_all_gone(pids)
    assert any("interrupted" in line for line in lines)


def test_run_with_a_failing_cell_ends_everything(tmp_path: Path) -> None:
    process, first_cell, lines = start(
        tmp_path, "--variant", "raw", "--clients", "requests,browser-eventsource"
    )
    pids = run_processes(process, first_cell)
    assert process.wait(120) == 0, "".join(lines)
    assert (tmp_path / "index.json").exists()
    assert_all_gone(pids)
    assert any("ERROR" in line for line in lines)  # raw × browser-eventsource is refused


def test_unreachable_plugin_is_a_clear_setup_error(tmp_path: Path) -> None:
    run = subprocess.run(
        [*CLI, "run", "--variants", "nope_xyz:V"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "cannot import nope_xyz" in run.stderr and "Traceback" not in run.stderr


def test_even_sigkill_of_the_harness_leaves_nothing(tmp_path: Path) -> None:
    # No handler runs: the servers and proxies die with their parent (PR_SET_PDEATHSIG),
    # Playwright's driver and its Chromium when the driver's pipe closes.
    process, first_cell, _ = start(tmp_path)
    pids = run_processes(process, first_cell)
    process.kill()
    process.wait(30)
    assert_all_gone(pids)


REAL_HERE = [n for n, k in PROXIES.items() if k.binary()]


@pytest.mark.skipif(not REAL_HERE, reason="no real proxy installed")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL, None])
def test_real_proxies_and_their_workers_end_with_the_run(tmp_path: Path, sig: int | None) -> None:
    # None: the run ends by itself. nginx's and Apache's workers are the master's
    # children, so the PIDs found under the harness include them.
    process, first_cell, lines = start(
        tmp_path, "--variant", "raw", "--clients", "requests,curl",
        "--network", ",".join(REAL_HERE), "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip
    pids = run_processes(process, first_cell)
    names = {program(p) for p in pids}
    assert {PROXIES[n].program for n in REAL_HERE} <= names, names
    end_run(process, sig, lines, pids)


TLS_HERE = [n for n in ("nginx-h2", "caddy-h2") if PROXIES[n.split("-")[0]].binary()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL, None])
def test_a_tls_run_leaves_no_process_and_no_certificate(tmp_path: Path, sig: int | None) -> None:
    """The run's CA and key live in its own temp dir (TMPDIR here), gone with the run
    however it ends, but SIGKILL (no code of the harness runs then; its processes end by
    their parent-death signal, and the dir holds a throwaway key of no other use)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    process, first_cell, lines = start(
        tmp_path / "r", "--variant", "raw,sse", "--clients", "browser-fetch,httpx-h2,curl-h2",
        "--baseline", str(tmp_path / "none.json"), "--network", ",".join(["direct-tls", *TLS_HERE]),
        env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    pids = run_processes(process, first_cell)
    assert [p for p in temp.iterdir() if p.name.startswith("streamcompat-tls-")]
    end_run(process, sig, lines, pids, bound=180)
    left = [p for p in temp.rglob("*") if p.suffix == ".pem"]
    if sig == signal.SIGKILL:
        assert all(p.parent.name.startswith("streamcompat-tls-") for p in left)
    else:
        assert left == []


@pytest.mark.skipif(bool(firefox_missing()), reason=firefox_missing() or "")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, None])
def test_firefox_and_its_content_processes_end_with_the_run(
    tmp_path: Path, sig: int | None
) -> None:
    # None: the run ends by itself. Firefox is the harness's child in a group of its own,
    # its content processes Firefox's: every one is under the harness when it is sampled.
    process, first_cell, lines = start(
        tmp_path, "--variant", "raw,sse,ndjson", "--clients", "firefox-fetch,firefox-eventsource",
        "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip
    pids = run_processes(process, first_cell)
    firefoxes = [p for p in pids if program(p).startswith("firefox")]
    assert len(firefoxes) >= 2, "Firefox and its content processes"
    end_run(process, sig, lines, pids)


@pytest.mark.skipif(bool(webkit_missing()), reason=webkit_missing() or "")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL, None])
def test_webkit_its_driver_and_its_display_end_with_the_run(
    tmp_path: Path, sig: int | None
) -> None:
    # None: the run ends by itself. Xvfb and WebKitWebDriver are the harness's children,
    # each in a group of its own; MiniBrowser and its web and network processes are the
    # driver's, in its group. On SIGKILL the driver and Xvfb die with the harness
    # (PR_SET_PDEATHSIG), and MiniBrowser with its display, its processes with it.
    process, first_cell, lines = start(
        tmp_path, "--variant", "raw,sse,ndjson", "--clients", "webkit-fetch,webkit-eventsource",
        "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip
    pids = run_processes(process, first_cell)
    names = {program(p) for p in pids}
    wanted = {"Xvfb", "WebKitWebDriver", "MiniBrowser", "WebKitWebProcess", "WebKitNetworkProcess"}
    assert wanted <= names, names
    end_run(process, sig, lines, pids)
