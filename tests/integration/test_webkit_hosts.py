"""WebKit's host: over TLS it is given the run's certificate for the session (and its hub
speaks TLS, as WebKit blocks loopback HTTP in an HTTPS page) and speaks HTTP/2; in app mode
its pages are the app's own answer at the hub's path, given their program by WebDriver; a
machine without WebKitGTK skips its columns with a notice, never an ERROR."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from streamcompat.clients import WEBKIT_CLIENTS
from streamcompat.harness.engine.differential import run_corpus
from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.hosts.webkit import missing
from tests.support import CLI, ROOT

needs_webkit = pytest.mark.skipif(bool(missing()), reason=missing() or "")


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, dict]:
    """The CLI's exit code, what it printed, and its index.json (if it wrote one)."""
    done = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(tmp_path), "--baseline",
         str(tmp_path / "none.json"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    index = tmp_path / "index.json"
    found = json.loads(index.read_text(encoding="utf-8")) if index.exists() else {}
    return done.returncode, done.stdout + done.stderr, found


@needs_webkit
@pytest.mark.skipif(PROXIES["caddy"].binary() is None, reason="caddy not installed")
def test_over_tls_webkit_takes_the_runs_certificate_and_speaks_h2(tmp_path: Path) -> None:
    code, said, index = run(
        tmp_path, "--clients", "webkit-fetch,webkit-eventsource", "--variant", "raw,sse",
        "--network", "caddy-h2,direct-tls",
    )  # fmt: skip
    assert code == 0, said
    got = {
        (c["variant"], c["client"], c["network"]): (c["verdict"], c["protocol"])
        for c in index["cells"]
    }
    # An EventSource's request has no resource timing entry in WebKit: no protocol said.
    assert got == {
        ("raw", "webkit-fetch", "caddy-h2"): ("PASS", "h2"),
        ("sse", "webkit-fetch", "caddy-h2"): ("CORRUPT", "h2"),  # a byte reader: the framing
        ("sse", "webkit-eventsource", "caddy-h2"): ("PASS", None),
        ("raw", "webkit-eventsource", "caddy-h2"): ("ERROR", None),  # text/plain: refused
        ("raw", "webkit-fetch", "direct-tls"): ("PASS", "http/1.1"),
        ("sse", "webkit-fetch", "direct-tls"): ("CORRUPT", "http/1.1"),
        ("sse", "webkit-eventsource", "direct-tls"): ("PASS", None),
        ("raw", "webkit-eventsource", "direct-tls"): ("ERROR", None),
    }


@needs_webkit
def test_in_app_mode_webkit_starts_its_pages_in_the_apps_own_answer(tmp_path: Path) -> None:
    pytest.importorskip("sse_starlette", reason="the examples extra is not installed")
    code, said, index = run(
        tmp_path, "--app", f"{CLI[0]} -m uvicorn examples.passthrough_app:app --port {{port}}",
        "--clients", "webkit-fetch", "--network", "direct",
    )  # fmt: skip
    assert code == 0, said
    assert [(c["client"], c["verdict"]) for c in index["cells"]] == [("webkit-fetch", "PASS")]


@needs_webkit
def test_webkit_eventsource_keeps_a_bom_that_comes_in_pieces() -> None:
    # The spec's decoder drops one leading BOM however the bytes come; WebKit's keeps it
    # when its first read holds only part of it (one byte per chunk on split): the first
    # line is then "\ufeffdata: ...", an unknown field, and its event is lost. Whole, the
    # BOM is dropped (direct).
    client = next(c for c in WEBKIT_CLIENTS if c.name == "webkit-eventsource")
    outcomes = asyncio.run(run_corpus([client], ["direct", "split"]))
    found = {(o.case, o.network): o for o in outcomes}
    assert found["bom-stripped", "split"].got == [] and found["bom-stripped", "split"].deviates
    # "\ufeffevent: update" is ignored too: the event comes as a message.
    assert found["bom-before-event", "split"].got == ["a"]
    assert found["bom-before-event", "split"].deviates
    assert not found["bom-stripped", "direct"].deviates
    assert not found["bom-before-event", "direct"].deviates


def test_without_webkit_its_columns_are_skipped_with_a_notice(tmp_path: Path) -> None:
    env = {**os.environ, "STREAMCOMPAT_WEBKIT": "/no/such/MiniBrowser"}
    code, said, index = run(
        tmp_path, "--clients", "webkit-fetch,requests", "--variant", "raw",
        "--network", "direct", env=env,
    )  # fmt: skip
    assert code == 0, said
    assert "skipping webkit-fetch: WebKit not installed" in said
    assert "`streamcompat setup webkit`" in said
    assert [(c["client"], c["verdict"]) for c in index["cells"]] == [("requests", "PASS")]
    assert "webkit-fetch" in index["run"]["skipped"]
    assert index["run"]["versions"]["webkit"] == "not started"
