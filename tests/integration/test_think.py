"""The ``think`` token script: the model thinks before its first token, and clients keep
their libraries' default timeouts. httpx's (5 s per read) ends a stream that sends
nothing meanwhile; heartbeat comments (``sse-comments``) keep it reading. Real server,
real client, real sockets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from streamcompat.harness.kernel.tokens import THINK_S
from tests.support import CLI, ROOT


def test_the_think_is_longer_than_httpx_waits_for_a_byte() -> None:
    import httpx

    assert THINK_S["think"] > httpx.Timeout(5.0).read  # httpx's default, per read
    assert httpx.AsyncClient().timeout == httpx.Timeout(5.0)  # what the driver then gets


@pytest.mark.matrix
def test_heartbeats_keep_a_client_with_default_timeouts_reading(tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--script", "think", "--variant", "sse,sse-comments,gzip",
         "--clients", "httpx-sse,curl", "--network", "direct", "--results", str(results),
         "--baseline", str(tmp_path / "none.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    cells = {
        (c["variant"], c["client"]): c
        for c in json.loads((results / "index.json").read_text())["cells"]
    }
    silent, beating = cells["sse", "httpx-sse"], cells["sse-comments", "httpx-sse"]

    assert silent["verdict"] == "ERROR", silent
    assert "ReadTimeout" in silent["detail"] and "thought 6 s" in silent["detail"]
    assert beating["verdict"] == "PASS", beating
    # What kept it reading: comments on the wire while the model thought, none of them
    # a token, the first token only after the think.
    writes = beating["wire"]["server_sent"]  # [ms into the cell, the bytes], as sent
    first_token = next(ms for ms, data, *_ in writes if data.startswith(": ping\ndata:"))
    beats = [ms for ms, data, *_ in writes if data == ": ping\n\n" and ms < first_token]
    assert len(beats) >= 2, writes
    assert first_token - writes[0][0] >= (THINK_S["think"] - 0.5) * 1000

    # GZipMiddleware sends its head only with the first (compressed) bytes: 6 s in. The
    # head window starts once the model has thought, so curl (no timeout of its own)
    # reads it to the end, and httpx gives up on the silence.
    assert cells["gzip", "curl"]["verdict"] == "PASS", cells["gzip", "curl"]
    assert cells["gzip", "curl"]["wire"]["server_sent"][0][0] >= (THINK_S["think"] - 0.5) * 1000
    assert cells["gzip", "httpx-sse"]["verdict"] == "ERROR"
