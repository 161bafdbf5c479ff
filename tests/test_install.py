"""Installed, the tool is one package, ``streamcompat``: a project's own ``servers/``,
``clients/`` and ``harness/`` packages cannot shadow it.

Installs the checkout into a fresh virtualenv (with uv, from its cache) and runs
``streamcompat`` from a project directory whose own packages would fail if imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
# Clients that need nothing but the Python package (npm clients need `streamcompat setup`).
CLIENTS = "requests,aiohttp,httpx-sse,requests-sseclient,openai"


@pytest.mark.matrix
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_the_installed_tool_runs_from_a_project_with_its_own_servers_package(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"  # a clean copy: no stale build/ of the checkout's
    shutil.copytree(
        ROOT, source,
        ignore=shutil.ignore_patterns(".git", ".venv", ".nox", "build", "node_modules",
                                      "results", "*.egg-info", "__pycache__"),
    )  # fmt: skip
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(python), str(source)], check=True, timeout=600
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    assert (site / "streamcompat" / "harness").is_dir()
    assert not any((site / name).exists() for name in ("harness", "servers", "clients"))

    project = tmp_path / "project"
    for name in ("servers", "clients", "harness"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(f"raise ImportError('the project\\'s {name}')")
    results = tmp_path / "results"
    run = subprocess.run(
        [str(venv / "bin" / "streamcompat"), "run", "--quiet", "--variant", "sse",
         "--network", "direct", "--clients", CLIENTS, "--results", str(results)],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    cells = json.loads((results / "index.json").read_text(encoding="utf-8"))["cells"]
    got = {f"{c['variant']} × {c['client']} × {c['network']}": c["verdict"] for c in cells}
    assert got == {key: BASELINE[key] for key in got} and len(got) == len(CLIENTS.split(","))
