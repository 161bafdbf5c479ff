"""The abort and error scenarios, run for real: a server that stops generation when its
client leaves against one that detaches it (``tests/support/hostile_plugins.py``: ``detached``),
and clients that are told of a failed chain against ones that end as if nothing happened.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support import CLI, ROOT

VARIANTS = "raw,detached,checks-before-write,sse,sse-named,fastapi-sse,openai"
CLIENTS = "httpx,requests,httpx-sse,openai"
DEADLINE = "8"  # detached × error never ends: TIMEOUT at the deadline


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results),
         "--variants", "builtin", "--variants", "tests.support.hostile_plugins:LIFECYCLE",
         "--variant", VARIANTS, "--clients", CLIENTS, "--scenario", "abort,error",
         "--deadline", DEADLINE],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    index = json.loads((results / "index.json").read_text(encoding="utf-8"))
    keyed = {
        f"{c['variant']} × {c['client']} × {c['network']} × {c['scenario']}": c
        for c in index["cells"]
    }
    assert len(keyed) == 7 * 4 * 2  # both scenarios, on the direct network only
    return keyed


def verdict(cells: dict[str, dict[str, Any]], key: str) -> tuple[str, str]:
    c = cells[key]
    return c["verdict"], c["detail"]


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_the_server_sees_a_client_leave_and_cancels_generation(
    cells: dict[str, dict[str, Any]], client: str
) -> None:
    got, detail = verdict(cells, f"raw × {client} × direct × abort")
    assert got == "STOPPED", detail
    assert "while its response waited for the next token" in detail


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_generation_detached_from_the_response_goes_on_after_the_client_left(
    cells: dict[str, dict[str, Any]], client: str
) -> None:
    got, detail = verdict(cells, f"detached × {client} × direct × abort")
    assert got == "LEAK", detail
    assert "went on to token 30 of 30" in detail


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_a_server_that_notices_only_when_it_writes_stops_a_token_later(
    cells: dict[str, dict[str, Any]], client: str
) -> None:
    got, detail = verdict(cells, f"checks-before-write × {client} × direct × abort")
    assert got == "STOPPED", detail
    assert "did not notice while its response waited" in detail
    assert "after 1 more token (when the response next wrote)" in detail


def test_a_failure_that_ends_nothing_leaves_the_user_waiting(
    cells: dict[str, dict[str, Any]],
) -> None:
    got, detail = verdict(cells, "detached × httpx × direct × error")
    assert got == "TIMEOUT", detail  # its generation task died; the response waits on
    assert "failed after token 5, and nothing ended the stream" in detail


@pytest.mark.parametrize(
    "key",
    [
        "sse × httpx-sse × direct × error",  # the body is cut: httpx raises
        "sse-named × httpx-sse × direct × error",  # an error event: its user raises
        "openai × openai × direct × error",  # a data: {"error": ...} chunk: the SDK raises
        "raw × requests × direct × error",  # a cut chunked body
    ],
)
def test_a_failed_chain_is_told(cells: dict[str, dict[str, Any]], key: str) -> None:
    got, detail = verdict(cells, key)
    assert got == "TOLD", detail
    assert "the chain failed after token 5" in detail


def test_fastapi_sse_ends_a_failed_stream_as_if_whole(cells: dict[str, dict[str, Any]]) -> None:
    got, detail = verdict(cells, "fastapi-sse × httpx-sse × direct × error")
    assert got == "TRUNCATED", detail
    # (Its detail may add that the app raised after the end, if it had by the time the
    # record was taken: FastAPI re-raises a moment after the end went out.)
    assert "5 of 30 tokens" in detail


def test_clients_that_never_show_token_k_get_the_stream_verdict(
    cells: dict[str, dict[str, Any]],
) -> None:
    got, detail = verdict(cells, "sse × httpx × direct × abort")
    assert got == "CORRUPT", detail  # framing leaks into the text, as in the stream scenario
    assert "not asked to leave" in detail
