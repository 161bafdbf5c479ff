"""The house by layer, read off the code: imports only go down, modules stay small, and
the package is one namespace (a checkout's other folders are not its subpackages)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

#: Each folder's floor: a module may import only from folders on a lower floor or its own.
FLOORS = {
    "harness/kernel": 0,
    "harness/spec": 0,
    "harness/hosts": 1,
    "servers": 2,
    "clients": 2,
    "harness/engine": 3,
    "harness/outputs": 4,
    "harness/front": 5,
    "harness": 6,  # the two front ends: cli.py, pytest_plugin.py
}
PACKAGE_DIRS = {"harness": "harness", "servers": "servers", "clients": "clients"}
MAX_LINES = 450
#: Modules still over MAX_LINES, each at most this long until it is split.
STILL_OVER: dict[str, int] = {}


def _folder(module: str) -> str | None:
    """``streamcompat.harness.engine.runner`` -> ``harness/engine``."""
    parts = module.split(".")
    if parts[0] != "streamcompat" or len(parts) < 2 or parts[1] not in PACKAGE_DIRS:
        return None
    folder = "/".join(parts[1:3])
    return folder if folder in FLOORS else parts[1]


def _modules() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_imports_only_go_down(path: Path) -> None:
    rel = _rel(path)
    own = next(f for f in sorted(FLOORS, key=len, reverse=True) if rel.startswith(f + "/"))
    up = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            folder = _folder(name)
            if folder is not None and folder != own and FLOORS[folder] >= FLOORS[own]:
                up.append(f"{name} (floor {FLOORS[folder]})")
    assert not up, f"{rel} (floor {FLOORS[own]}) imports up or sideways: {up}"


@pytest.mark.parametrize("path", [*_modules(), *sorted((ROOT / "tools").rglob("*.py"))], ids=_rel)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= STILL_OVER.get(_rel(path), MAX_LINES), f"{_rel(path)}: {lines} lines"


def test_harness_top_level_is_small() -> None:
    modules = [p.name for p in (ROOT / "harness").glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= 8, modules


@pytest.mark.parametrize("name", ["tests", "tools", "noxfile", "examples"])
def test_the_checkouts_other_folders_are_not_subpackages(name: str) -> None:
    code = f"import streamcompat.{name}"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=False)
    assert done.returncode != 0


def test_public_names_are_listed_once() -> None:
    tree = ast.parse((ROOT / "streamcompat" / "__init__.py").read_text(encoding="utf-8"))
    assigned = [
        t.id
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    ]
    assert assigned.count("__all__") == 1
    assert "__path__" not in assigned and "_PUBLIC" not in assigned
    assert "TYPE_CHECKING" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
