"""The seed's own app (lanarky #121): lanarky 0.7.16's ``from_chain`` over a langchain
``ConversationChain``, in a virtualenv of its era (examples/lanarky07-requirements.txt),
gated in app mode; its row pinned to examples/lanarky07-app-baseline.json.

The virtualenv is built once per pins and Python and kept in pytest's cache
(.pytest_cache): about 5 s from a warm uv cache, under a minute from PyPI.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.app_runs import streamcompat

pytestmark = pytest.mark.matrix  # a real app in every client: not a fast test

EXAMPLES = ROOT / "examples"
REQUIREMENTS = EXAMPLES / "lanarky07-requirements.txt"
BASELINE = EXAMPLES / "lanarky07-app-baseline.json"
INSTALL_BOUND_S = 600  # a fresh machine downloads ~40 MB of wheels
#: What an installer says when it cannot reach the index (uv, pip): a skip, not a failure.
UNREACHABLE = re.compile(
    r"dns error|error sending request|failed to fetch|could not fetch url|"
    r"newconnectionerror|name resolution|network is unreachable|connection refused",
    re.IGNORECASE,
)
#: The seed's table (lanarky #121): fetch shows the tokens; EventSource, fetch-event-source
#: (Postman's SSE view parses like them) see no event; axios awaited shows all at the end.
SEED_ROW = {
    "browser-fetch": "PASS",
    "browser-axios": "BUFFERED",
    "browser-eventsource": "SILENT",
    "browser-fetch-event-source": "SILENT",
}


def era_python() -> str | None:
    """A Python the pins have wheels for (3.10 to 3.12): this one, or one on PATH."""
    if (3, 10) <= sys.version_info[:2] <= (3, 12):
        return sys.executable
    found = (shutil.which(f"python3.{minor}") for minor in (12, 11, 10))
    return next((path for path in found if path), None)


def install(venv: Path, python: str) -> subprocess.CompletedProcess[str]:
    """Make ``venv`` with ``python`` and install the pins, wheels only: with uv where it
    is installed (seconds), else venv and pip."""
    pinned = ["--only-binary", ":all:", "-r", str(REQUIREMENTS)]
    in_venv = str(venv / "bin" / "python")
    uv = shutil.which("uv")
    if uv:
        steps = [[uv, "venv", "-q", "--python", python, str(venv)],
                 [uv, "pip", "install", "-q", "--python", in_venv, *pinned]]  # fmt: skip
    else:
        steps = [[python, "-m", "venv", str(venv)],
                 [in_venv, "-m", "pip", "install", "-q", *pinned]]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_BOUND_S)
        if done.returncode:
            return done
    return done


@pytest.fixture(scope="module")
def lanarky07(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The era's virtualenv; reused while the pins and the Python are the same."""
    python = era_python()
    if python is None:
        pytest.skip("lanarky 0.7.16's pins have no wheels for this Python; no python3.10-3.12")
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    key = hashlib.sha256(f"{REQUIREMENTS.read_text()}{python}{version}".encode()).hexdigest()
    cache = getattr(request.config, "cache", None)  # none with -p no:cacheprovider
    home = cache.mkdir("lanarky07-venv") if cache else tmp_path_factory.mktemp("lanarky07")
    venv = home / key[:16]
    if not (venv / ".installed").exists():
        for old in home.iterdir():  # other pins' or Pythons' envs
            shutil.rmtree(old, ignore_errors=True)
        done = install(venv, python)
        if done.returncode:
            said = (done.stdout + done.stderr).strip()
            shutil.rmtree(venv, ignore_errors=True)
            if UNREACHABLE.search(said):
                pytest.skip(f"PyPI unreachable: {REQUIREMENTS.name} not installed ({said[-200:]})")
            pytest.fail(f"installing {REQUIREMENTS.name} failed:\n{said}")
        (venv / ".installed").touch()
    return venv


def test_the_seeds_app_has_the_seeds_row(tmp_path: Path, lanarky07: Path) -> None:
    pinned = json.loads(BASELINE.read_text(encoding="utf-8"))["cells"]
    app = f"{lanarky07 / 'bin' / 'uvicorn'} examples.lanarky07_app:app --port {{port}}"
    code, said, cells = streamcompat(
        tmp_path, "--app", app,
        "--endpoint", "GET /chat?query={prompt}", "--app-name", "lanarky07-app",
        "--baseline", str(BASELINE),
    )  # fmt: skip
    changed = {
        key: f"{verdict} → {cells[key]['verdict'] if key in cells else 'not run'}: "
        f"{cells[key]['detail'] if key in cells else ''}"
        for key, verdict in pinned.items()
        if key not in cells or cells[key]["verdict"] != verdict
    }
    assert not changed, json.dumps(changed, indent=1, ensure_ascii=False)
    assert code == 0, said
    for network in ("direct", "split"):
        row = {c: cells[f"lanarky07-app × {c} × {network}"] for c in SEED_ROW}
        assert {c: cell["verdict"] for c, cell in row.items()} == SEED_ROW
        assert row["browser-axios"]["stalled_at"] == 1  # nothing until the end
        assert "no end marker; EventSource would reconnect" in row["browser-eventsource"]["detail"]
    # The app through its whole stack (lanarky's callback, langchain, openai 0.27, uvicorn)
    # is the raw-event-stream variant, cell by cell.
    variants = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
    variant_row = {
        key.replace("raw-event-stream", "lanarky07-app", 1): verdict
        for key, verdict in variants.items()
        if key.startswith("raw-event-stream × ")
    }
    # Every cell the app's GET route lets a client make; the AI SDK's transports only POST.
    made = {key: verdict for key, verdict in pinned.items() if verdict != "UNSUPPORTED"}
    assert made == {key: variant_row[key] for key in made}
    assert set(pinned) == set(variant_row)
    assert (tmp_path / "results" / "lanarky07-app.log").exists()
