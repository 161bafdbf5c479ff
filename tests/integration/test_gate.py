"""The regression gate, end to end: break the built-in sse framing in a copy of the
project and the run fails naming the broken cells; the intact copy passes. Plug-in
variants (the examples/) run through the same matrix."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CLI, ROOT

# Python SSE parsers and the browser's EventSource: no npm packages needed in the copy.
CLIENTS = "browser-eventsource,httpx-sse,requests-sseclient"


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as an install lays it out (streamcompat/harness, ...), run from its
    folder, so every process of the run imports the copy, not the checkout."""
    target = tmp_path_factory.mktemp("project")
    (target / "streamcompat").mkdir()
    shutil.copy(ROOT / "streamcompat" / "__init__.py", target / "streamcompat")
    for name in ("harness", "servers", "clients"):
        ignore = shutil.ignore_patterns("node_modules", "__pycache__")
        shutil.copytree(ROOT / name, target / "streamcompat" / name, ignore=ignore)
    shutil.copy(ROOT / "compat-baseline.json", target)
    return target


def gate(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "run", "--quiet", "--network", "direct"]
    return subprocess.run(
        [*command, "--results", str(project / "results"), *args],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def break_framing(project: Path, old: str, new: str) -> None:
    framings = project / "streamcompat" / "servers" / "framings.py"
    text = framings.read_text(encoding="utf-8")
    assert old in text
    framings.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        # Events end with one newline instead of two: nothing ever dispatches.
        ("split(token)) + eol", "split(token))", "one"),
        # No data: prefix, as lanarky once sent.
        ('f"data:{space}{line}{eol}"', 'f"{line}{eol}"', "prefix"),
    ],
)  # fmt: skip
def test_breaking_sse_fails_the_gate_and_names_the_cells(
    copy: Path, tmp_path: Path, old: str, new: str, why: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(copy, broken)
    break_framing(broken, old, new)
    run = gate(broken, "--variant", "sse", "--clients", CLIENTS)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "gate: FAILED" in run.stdout
    for client in CLIENTS.split(","):
        assert f"regression: sse × {client} × direct: PASS → " in run.stdout


def test_the_intact_copy_passes_the_gate(copy: Path) -> None:
    run = gate(copy, "--variant", "sse", "--clients", CLIENTS)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "gate: ok" in run.stdout


def test_plugin_examples_and_broken_plugins_get_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "plugins.json"
    run = subprocess.run(
        [
            *CLI, "run", "--quiet", "--network", "direct",
            "--variants", "examples.sse_starlette_plugin:VARIANTS",
            "--variants", "examples.fastapi_sse_plugin:VARIANTS",
            "--variants", "examples.broken_plugins:VARIANTS",
            "--clients", "requests,browser-eventsource,httpx-sse",
            "--results", str(tmp_path), "--json", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    cells = {(c["variant"], c["client"]): c for c in json.loads(out.read_text())["cells"]}
    assert len(cells) == 8 * 3  # one cell per client for every plug-in variant
    for name in ("my-sse-starlette", "my-fastapi-sse", "my-fastapi-sse-raw"):
        assert cells[(name, "browser-eventsource")]["verdict"] == "PASS"
        assert cells[(name, "httpx-sse")]["verdict"] == "PASS"
        assert cells[(name, "requests")]["verdict"] == "CORRUPT"
    raises = cells[("factory-raises", "requests")]
    assert raises["verdict"] == "ERROR" and "RuntimeError('the factory broke')" in raises["detail"]
    wrong = cells[("not-a-response", "httpx-sse")]
    assert wrong["verdict"] == "ERROR" and "returned str, not a response" in wrong["detail"]
    static = cells[("not-streaming", "requests")]
    assert static["verdict"] == "CORRUPT" and "never read the token stream" in static["detail"]
    died = cells[("dies-midway", "requests")]
    assert died["verdict"] == "ERROR" and "after 3 of 30 tokens" in died["detail"]
    cut = cells[("invalid-utf8", "requests")]
    assert cut["verdict"] == "CORRUPT" and "(mojibake)" in cut["detail"]


def test_not_a_variant_is_a_setup_error() -> None:
    run = subprocess.run(
        [*CLI, "run",
         "--variants", "examples.broken_plugins:NOT_VARIANTS"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "'sse' is not a Variant" in run.stderr


def test_clients_whose_programs_are_missing_are_skipped_not_regressions() -> None:
    from streamcompat.harness.cli import unavailable
    from streamcompat.harness.kernel.model import Client

    async def never(*args: object) -> None:
        raise AssertionError("a skipped client must not run")

    missing = Client("ghost", "chunk", never, requires=("streamcompat-no-such-program",))
    present = Client("here", "chunk", never, requires=(sys.executable,))
    assert unavailable([missing, present]) == {
        "ghost": "streamcompat-no-such-program not installed"
    }
