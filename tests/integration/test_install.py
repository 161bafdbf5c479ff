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

from tests.support import ROOT

BASELINE = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
# Clients that need nothing but the Python package (npm clients need `streamcompat setup`).
CLIENTS = "requests,aiohttp,httpx-sse,requests-sseclient,openai"


def install(tmp_path: Path, *requirements: str) -> Path:
    """A fresh virtualenv with a clean copy of the checkout installed (plus
    ``requirements``); returns its bin folder."""
    source = tmp_path / "source"  # a clean copy: no stale build/ of the checkout's
    shutil.copytree(
        ROOT, source,
        ignore=shutil.ignore_patterns(".git", ".venv", ".nox", "build", "node_modules",
                                      "results", "*.egg-info", "__pycache__"),
    )  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    wanted = [r.replace("{source}", str(source)) for r in requirements]
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(venv / "bin" / "python"), *wanted],
        check=True, timeout=600,
    )  # fmt: skip
    return venv / "bin"


def run(bin_dir: Path, cwd: Path, results: Path, *args: str) -> dict[str, str]:
    done = subprocess.run(
        [str(bin_dir / "streamcompat"), "run", "--quiet", "--network", "direct",
         "--results", str(results), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cells = json.loads((results / "index.json").read_text(encoding="utf-8"))["cells"]
    return {f"{c['variant']} × {c['client']} × {c['network']}": c["verdict"] for c in cells}


needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")


@pytest.mark.matrix
@needs_uv
def test_the_installed_tool_runs_from_a_project_with_its_own_servers_package(
    tmp_path: Path,
) -> None:
    bin_dir = install(tmp_path, "{source}[all]")
    python = bin_dir / "python"
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
        (project / name / "__init__.py").write_text(f"raise ImportError('the project's {name}')")
    got = run(bin_dir, project, tmp_path / "results", "--variant", "sse", "--clients", CLIENTS)
    assert got == {key: BASELINE[key] for key in got} and len(got) == len(CLIENTS.split(","))


#: lanarky 0.8.8's row (clients that need no npm packages), as first measured.
LANARKY_ROW = {
    "requests": "CORRUPT",
    "requests-lines": "CORRUPT",
    "aiohttp": "CORRUPT",
    "aiohttp-lines": "CORRUPT",
    "browser-fetch": "CORRUPT",
    "browser-eventsource": "REPLAYS",  # no end event: it reconnects and replays
    "httpx": "CORRUPT",
    "httpx-sse": "PASS",
    "requests-sseclient": "PASS",
    "openai": "UNSUPPORTED",
    "curl": "CORRUPT",
}


@pytest.mark.matrix
@needs_uv
def test_lanarky_0_8_8_installs_beside_streamcompat_and_its_row_holds(tmp_path: Path) -> None:
    # Resolving at all is the point: lanarky pins sse-starlette < 2 and httpx-sse < 0.4.
    bin_dir = install(tmp_path, "{source}", "lanarky==0.8.8")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project / "examples")
    got = run(
        bin_dir, project, tmp_path / "results",
        "--variants", "examples.lanarky_plugin:VARIANTS", "--clients", ",".join(LANARKY_ROW),
    )  # fmt: skip
    assert got == {f"lanarky-0.8.8 × {c} × direct": v for c, v in LANARKY_ROW.items()}


@pytest.mark.matrix
@needs_uv
def test_app_mode_runs_flag_free_from_a_new_project(tmp_path: Path) -> None:
    # README's "Options from a file", as a new user runs it: the app's own dependencies
    # beside the tool, the options in the project's pyproject.toml, no flags.
    bin_dir = install(tmp_path, "{source}", "langchain-openai", "sse-starlette")
    project = tmp_path / "project"
    (project / "myapp").mkdir(parents=True)
    (project / "myapp" / "__init__.py").write_text("")
    shutil.copyfile(ROOT / "examples" / "langchain_app.py", project / "myapp" / "main.py")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "myapp"\nversion = "0"\n\n[tool.streamcompat]\n'
        f'app = "{bin_dir / "uvicorn"} myapp.main:app --port {{port}}"\n'
        'endpoint = "GET /chat?message={prompt}"\n'
        'clients = "requests-sseclient,requests"\n'
        'network = "direct"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(bin_dir / "streamcompat"), "run", "--quiet"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cells = json.loads((project / "results" / "index.json").read_text(encoding="utf-8"))["cells"]
    got = {c["client"]: c["verdict"] for c in cells}
    assert got == {"requests-sseclient": "PASS", "requests": "CORRUPT"}
