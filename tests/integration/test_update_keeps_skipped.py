"""A whole ``streamcompat run --update-baseline`` on a machine that cannot run some of the
cells (no ``node``; an extra not installed) keeps the baseline's cells of those clients
and variants: written without them, a later regression there would be only a new cell.
The matrix is replaced by recorded results; the command around it is the real one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from streamcompat.harness import cli
from streamcompat.harness.front import availability
from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from tests.support import ROOT


def passing(cell: Cell) -> Result:
    return Result(cell, Verdict.PASS, "recorded", None, None, None, 1.0, Facts([]))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every cell of the run PASSes without running; returns a copy of the pinned baseline."""

    async def run_matrix(matrix: object, *given: object, **options: object) -> object:
        return [passing(c) for c in matrix.cells()], {}  # type: ignore[attr-defined]

    monkeypatch.setattr(cli, "run_matrix", run_matrix)
    monkeypatch.chdir(tmp_path)  # no [tool.streamcompat] of the checkout
    copy = tmp_path / "baseline.json"
    shutil.copyfile(ROOT / "compat-baseline.json", copy)
    return copy


def update(copy: Path, tmp_path: Path) -> dict[str, str]:
    code = cli.main(
        ["run", "--quiet", "--update-baseline", "--baseline", str(copy),
         "--results", str(tmp_path / "results")]
    )  # fmt: skip
    assert code == 0
    cells: dict[str, str] = json.loads(copy.read_text(encoding="utf-8"))["cells"]
    return cells


def test_a_whole_update_without_node_keeps_the_node_clients_cells(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = json.loads(recorded.read_text(encoding="utf-8"))["cells"]
    node = {k: v for k, v in before.items() if Cell.from_key(k).client.startswith("node-")}
    assert node, "the pinned baseline has Node cells"
    bin_dir = tmp_path / "bin"  # curl, but no node
    bin_dir.mkdir()
    curl = shutil.which("curl")
    assert curl is not None
    (bin_dir / "curl").symlink_to(curl)
    monkeypatch.setenv("PATH", str(bin_dir))
    after = update(recorded, tmp_path)
    assert {k: after.get(k) for k in node} == node  # kept as they were, not dropped
    assert len(after) == len(before)


def test_a_whole_update_without_an_extra_keeps_its_variants_cells(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = json.loads(recorded.read_text(encoding="utf-8"))["cells"]
    starlette = {k: v for k, v in before.items() if Cell.from_key(k).variant == "sse-starlette"}
    assert starlette, "the pinned baseline has the sse-starlette variant's cells"
    real = availability.lacking
    monkeypatch.setattr(
        availability,
        "lacking",
        lambda modules: real(modules) or [m for m in modules if m == "sse_starlette"],
    )
    after = update(recorded, tmp_path)
    assert {k: after.get(k) for k in starlette} == starlette
    assert len(after) == len(before)
