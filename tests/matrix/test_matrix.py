"""The built-in matrix, run for real, pinned cell by cell to compat-baseline.json.

A behaviour change in any cell fails the test named after that cell, with the old and
new verdict and the detail; the other cells' tests pass. (The run's own gate exits 1
then; that is the CLI's business, tested in test_gate.py.)
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from streamcompat.harness.kernel.model import Verdict
from tests.support import CLI, ROOT

pytestmark = pytest.mark.matrix  # a real run of the whole matrix: not a fast test

BASELINE = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
FIELDS = {
    "variant", "client", "network", "verdict", "detail",
    "first_token_ms", "lag_ms_p50", "lag_ms_p99", "duration_ms",
}  # fmt: skip


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which); else the
    # run itself failed, and every test of this module rightly errors.
    assert run.returncode in (0, 1), run.stdout + run.stderr
    data: dict[str, Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))
    data["stdout"] = run.stdout
    return data


def cell(index: dict[str, Any], key: str) -> dict[str, Any]:
    for c in index["cells"]:
        if f"{c['variant']} × {c['client']} × {c['network']}" == key:
            return dict(c)
    raise AssertionError(f"{key} was not run")


@pytest.mark.parametrize("key", sorted(BASELINE))
def test_cell_matches_baseline(index: dict[str, Any], key: str) -> None:
    c = cell(index, key)
    assert c["verdict"] == BASELINE[key], f"{key}: {BASELINE[key]} → {c['verdict']}: {c['detail']}"


def test_every_cell_has_one_verdict_and_the_fields(index: dict[str, Any]) -> None:
    from streamcompat.clients import CLIENTS
    from streamcompat.servers.variants import VARIANTS

    # Every variant × every client of the default run × the default networks.
    default_run = [c for c in CLIENTS if c.by_default]
    assert len(index["cells"]) == len(VARIANTS) * len(default_run) * 2 == len(BASELINE)
    for c in index["cells"]:
        assert set(c) >= FIELDS
        assert c["verdict"] in {v.value for v in Verdict}
        assert c["detail"] and c["network"] in {"direct", "split"}


def test_pass_cells_are_measured(index: dict[str, Any]) -> None:
    passing = [c for c in index["cells"] if c["verdict"] == "PASS"]
    assert passing
    for c in passing:
        assert c["first_token_ms"] is not None and c["lag_ms_p50"] is not None
        assert c["lag_ms_p50"] <= c["lag_ms_p99"] <= c["duration_ms"]
        assert c["tokens_surfaced"] == c["tokens"]


def test_buffered_cells_say_where_they_stalled(index: dict[str, Any]) -> None:
    c = cell(index, "raw × requests-lines × direct")
    assert c["verdict"] == "BUFFERED" and c["stalled_at"] == 1
    assert "token 1 of 30" in c["detail"]


SEED_ROW = {  # lanarky #121's stream, as its issue tells it: fetch shows it, the rest don't
    "browser-fetch": "PASS",
    "browser-axios": "BUFFERED",  # `await axios.post(...)`: everything at once, at the end
    "browser-eventsource": "SILENT",
    "browser-fetch-event-source": "SILENT",
}


@pytest.mark.parametrize("network", ["direct", "split"])
def test_the_seeds_row_is_the_seeds_table(index: dict[str, Any], network: str) -> None:
    row = {name: cell(index, f"raw-event-stream × {name} × {network}") for name in SEED_ROW}
    assert {name: c["verdict"] for name, c in row.items()} == SEED_ROW
    # Nothing until the end: axios surfaced token 1 only after token 2 was produced.
    assert row["browser-axios"]["stalled_at"] == 1


def test_run_metadata_and_console_matrix(index: dict[str, Any]) -> None:
    versions = index["run"]["versions"]
    for name in ("python", "requests", "aiohttp", "playwright", "chromium"):
        assert versions[name] and versions[name] != "not installed"
    assert "raw-event-stream" in index["stdout"] and "browser-eventsource" in index["stdout"]
    assert "gate: " in index["stdout"]
