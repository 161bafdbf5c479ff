"""The pinned matrices' tests (``tests/matrix``): one real run of a baseline's cells, then
each cell's verdict held to its pin, one test per cell."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

from streamcompat.harness.kernel.model import Cell
from tests.support import CLI, ROOT

#: A whole matrix's run is bounded: far beyond any here (the longest takes ~2 minutes).
RUN_BOUND_S = 1200


def pins(file: str) -> dict[str, str]:
    """A baseline's verdicts by cell key."""
    cells: dict[str, str] = json.loads((ROOT / file).read_text(encoding="utf-8"))["cells"]
    return cells


def run_pinned(tmp_path_factory: pytest.TempPathFactory, file: str, *args: str) -> list[Any]:
    """The cells of one ``streamcompat run`` with ``args``, gated by the baseline ``file``."""
    results = tmp_path_factory.mktemp("results")
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(results), *args, "--baseline", file],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_BOUND_S,
    )  # fmt: skip
    # 0: every cell as pinned; 1: some cell changed (its own test says which).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    cells: list[Any] = json.loads((results / "index.json").read_text(encoding="utf-8"))["cells"]
    return cells


def by_key(cells: list[Any]) -> dict[str, Any]:
    """A run's cells by key."""
    return {
        Cell(c["variant"], c["client"], c["network"], c["scenario"], c["server"]).key: c
        for c in cells
    }


def check_pinned(
    found: Mapping[str, Any],
    key: str,
    pinned: Mapping[str, str],
    missing: Mapping[str, str] | None = None,
) -> Any:
    """Cell ``key`` of a run (``found``: ``by_key``) has its pinned verdict; skipped if
    its server is ``missing`` here (with the reason). Returns the cell."""
    server = Cell.from_key(key).server
    if missing and server in missing:
        pytest.skip(f"{server}: {missing[server]}")
    cell = found.get(key)
    assert cell is not None, f"{key} was not run"
    assert cell["verdict"] == pinned[key], (
        f"{key}: {pinned[key]} → {cell['verdict']}: {cell['detail']}"
    )
    return cell
