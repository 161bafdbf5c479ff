"""Firefox's host: over TLS it trusts the run's CA as its users would (imported into its
profile, no check turned off) and speaks HTTP/2; in app mode it answers the hub's page
itself; the spec corpus finds where its EventSource leaves the spec; a machine without
Firefox skips its columns with a notice, never an ERROR."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from streamcompat.clients import FIREFOX_CLIENTS
from streamcompat.harness.engine.differential import run_corpus
from streamcompat.harness.hosts.firefox import missing
from streamcompat.harness.hosts.proxies import PROXIES
from tests.support import CLI, ROOT

BY_NAME = {c.name: c for c in FIREFOX_CLIENTS}
needs_firefox = pytest.mark.skipif(bool(missing()), reason=missing() or "")


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


@needs_firefox
@pytest.mark.skipif(PROXIES["caddy"].binary() is None, reason="caddy not installed")
def test_over_tls_firefox_trusts_the_runs_ca_and_speaks_h2(tmp_path: Path) -> None:
    code, said, index = run(
        tmp_path, "--clients", "firefox-fetch,firefox-eventsource", "--variant", "raw,sse",
        "--network", "caddy-h2",
    )  # fmt: skip
    assert code == 0, said
    got = {(c["variant"], c["client"]): (c["verdict"], c["protocol"]) for c in index["cells"]}
    assert got == {
        ("raw", "firefox-fetch"): ("PASS", "h2"),
        ("sse", "firefox-fetch"): ("CORRUPT", "h2"),  # a byte reader shows the framing
        ("sse", "firefox-eventsource"): ("PASS", "h2"),
        ("raw", "firefox-eventsource"): ("ERROR", "h2"),  # text/plain: refused
    }


@needs_firefox
def test_in_app_mode_firefox_answers_the_hubs_page_itself(tmp_path: Path) -> None:
    pytest.importorskip("sse_starlette", reason="the examples extra is not installed")
    code, said, index = run(
        tmp_path, "--app", f"{CLI[0]} -m uvicorn examples.passthrough_app:app --port {{port}}",
        "--clients", "firefox-fetch", "--network", "direct",
    )  # fmt: skip
    assert code == 0, said
    assert [(c["client"], c["verdict"]) for c in index["cells"]] == [("firefox-fetch", "PASS")]


@needs_firefox
def test_firefox_eventsource_drops_nul_from_data_and_an_event_whose_id_holds_one() -> None:
    # The spec keeps U+0000 in data and ignores only an id field that holds one; Firefox
    # removes it from data, and shows no event after such an id (Chromium follows the spec).
    outcomes = asyncio.run(run_corpus([BY_NAME["firefox-eventsource"]], ["direct"]))
    found = {o.case: o for o in outcomes}
    assert found["nul-in-data"].got == ["ab"] and found["nul-in-data"].deviates
    assert found["id-nul-ignored"].got == ["a"] and found["id-nul-ignored"].deviates
    assert not found["utf8-non-ascii"].deviates


def test_without_firefox_its_columns_are_skipped_with_a_notice(tmp_path: Path) -> None:
    env = {**os.environ, "STREAMCOMPAT_FIREFOX": "no-such-firefox"}
    code, said, index = run(
        tmp_path, "--clients", "firefox-fetch,requests", "--variant", "raw",
        "--network", "direct", env=env,
    )  # fmt: skip
    assert code == 0, said
    assert "skipping firefox-fetch: Firefox not installed (`streamcompat setup firefox`" in said
    assert [(c["client"], c["verdict"]) for c in index["cells"]] == [("requests", "PASS")]
    assert "firefox-fetch" in index["run"]["skipped"]
    assert index["run"]["versions"]["firefox"] == "not started"
