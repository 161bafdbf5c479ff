"""App mode for real: example apps started as processes, their LLM calls gated through
the fake upstream, every client against their real endpoint; and what each way of
getting it wrong says."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT
from tests.support.app_runs import streamcompat

# The example apps' libraries: `pip install -e '.[examples]'` (nox -s tests does).
pytest.importorskip("langchain_openai", reason="the examples extra is not installed")
pytest.importorskip("sse_starlette", reason="the examples extra is not installed")

EXAMPLES = ROOT / "examples"
UVICORN = f"{sys.executable} -m uvicorn"
EXAMPLE_RUNS = {
    "langchain-app": ["--app", f"{UVICORN} examples.langchain_app:app --port {{port}}",
                      "--endpoint", "GET /chat?message={prompt}"],
    "passthrough-app": ["--app", f"{UVICORN} examples.passthrough_app:app --port {{port}}"],
}  # fmt: skip


@pytest.mark.matrix
@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_an_example_apps_row_holds(tmp_path: Path, name: str) -> None:
    baseline_path = EXAMPLES / f"{name}-baseline.json"
    pinned = json.loads(baseline_path.read_text(encoding="utf-8"))["cells"]
    code, said, cells = streamcompat(
        tmp_path, *EXAMPLE_RUNS[name], "--app-name", name, "--baseline", str(baseline_path)
    )
    changed = {
        key: f"{verdict} → {cells[key]['verdict'] if key in cells else 'not run'}: "
        f"{cells[key]['detail'] if key in cells else ''}"
        for key, verdict in pinned.items()
        if key not in cells or cells[key]["verdict"] != verdict
    }
    assert not changed, json.dumps(changed, indent=1, ensure_ascii=False)
    assert code == 0, said
    # The bars: SSE parsers show the langchain app's events, byte clients the pass-through.
    readers = {
        "langchain-app": ["httpx-sse", "requests-sseclient", "browser-fetch-sse",
                          "browser-eventsource", "node-eventsource"],
        "passthrough-app": ["requests", "aiohttp", "httpx", "browser-fetch", "node-fetch",
                            "axios", "curl"],
    }[name]  # fmt: skip
    assert all(
        pinned[f"{name} × {c} × {n}"] == "PASS" for c in readers for n in ("direct", "split")
    )


@pytest.mark.matrix
def test_a_framing_change_in_the_app_fails_the_gate_naming_the_cells(tmp_path: Path) -> None:
    # The langchain example with f"data: {token}\n\n": a token holding a newline breaks it.
    code, said, cells = streamcompat(
        tmp_path, "--app", f"{UVICORN} tests.support.apps:naive --port {{port}}",
        "--endpoint", "GET /chat?message={prompt}", "--app-name", "langchain-app",
        "--baseline", str(EXAMPLES / "langchain-app-baseline.json"),
        "--clients", "httpx-sse,requests-sseclient", "--network", "direct",
    )  # fmt: skip
    assert code == 1, said
    for client in ("httpx-sse", "requests-sseclient"):
        key = f"langchain-app × {client} × direct"
        assert cells[key]["verdict"] == "CORRUPT"
        assert f"regression: {key}" in said
    assert "gate: FAILED" in said


def one_cell(tmp_path: Path, app: str, *args: str) -> tuple[int, str, dict[str, Any]]:
    return streamcompat(
        tmp_path, "--app", f"{UVICORN} tests.support.apps:{app} --port {{port}}",
        "--clients", "requests", "--network", "direct", *args,
    )  # fmt: skip


def test_an_app_that_exits_at_start_ends_the_run_with_its_log(tmp_path: Path) -> None:
    crash = f"{sys.executable} -c \"import sys; print('no config: set DATABASE_URL'); sys.exit(3)\""
    code, said, _ = streamcompat(tmp_path, "--app", f"{crash} {{port}}", "--clients", "requests")
    assert code == 2, said
    assert "exited with code 3 before it listened" in said
    assert "no config: set DATABASE_URL" in said
    assert "Traceback" not in said


def test_an_app_that_never_listens_ends_the_run_after_its_start_timeout(tmp_path: Path) -> None:
    idle = (
        f"{sys.executable} -c \"import threading; print('loading the model', flush=True); "
        'threading.Event().wait()"'
    )
    code, said, _ = streamcompat(
        tmp_path, "--app", f"{idle} {{port}}", "--app-start-timeout", "1", "--clients", "requests"
    )
    assert code == 2, said
    assert "did not listen on 127.0.0.1:" in said and "within 1 s" in said
    assert "loading the model" in said
    assert "Traceback" not in said


def test_an_app_that_answers_without_the_upstream_is_told_so(tmp_path: Path) -> None:
    code, said, cells = one_cell(tmp_path, "never_calls")
    assert code == 0, said
    (cell,) = cells.values()
    assert cell["verdict"] == "CORRUPT"
    assert "the app never called the fake upstream for this stream" in cell["detail"]
    assert '"POST /chat HTTP/1.1" 200' in cell["detail"]  # the app's log tail


def test_an_app_that_hangs_without_the_upstream_is_told_so(tmp_path: Path) -> None:
    code, said, cells = one_cell(tmp_path, "hangs")
    assert code == 0, said
    (cell,) = cells.values()
    assert cell["verdict"] == "TIMEOUT"
    assert "the app never called the fake upstream for this stream" in cell["detail"]
    assert "did not reach the server" not in cell["detail"]


def test_an_app_that_calls_the_upstream_without_stream_true_is_told_so(tmp_path: Path) -> None:
    code, said, cells = one_cell(tmp_path, "not_streaming")
    assert code == 0, said
    (cell,) = cells.values()
    assert cell["verdict"] != "PASS"
    assert "the app called the upstream without stream: true" in cell["detail"]


def test_an_app_that_drops_the_prompt_is_told_the_marker_never_came(tmp_path: Path) -> None:
    code, said, cells = one_cell(tmp_path, "unmarked")
    assert code == 0, said
    (cell,) = cells.values()
    assert "no request carried the prompt's marker sc-" in cell["detail"]
    # The upstream's 400 told the app why (its SDK raised it into the app's log).
    log = (tmp_path / "results" / "app.log").read_text(encoding="utf-8")
    assert "found no stream marker (sc-<16 hex>) in the messages" in log


def test_a_config_file_makes_the_run_flag_free(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.streamcompat]\n"
        f'app = "{UVICORN} examples.passthrough_app:app --port {{port}}"\n'
        'app-name = "passthrough-app"\n'
        'clients = "requests"\n'
        'network = "direct"\n'
        f'baseline = "{EXAMPLES / "passthrough-app-baseline.json"}"\n',
        encoding="utf-8",
    )
    env_path = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"  # examples/ importable
    os.environ["PYTHONPATH"] = env_path
    try:
        code, said, cells = streamcompat(tmp_path, cwd=project)
    finally:
        os.environ["PYTHONPATH"] = env_path.split(os.pathsep, 1)[1]
    assert code == 0, said
    assert "options from pyproject.toml" in said and "gate: ok" in said
    assert list(cells) == ["passthrough-app × requests × direct"]
    assert cells["passthrough-app × requests × direct"]["verdict"] == "PASS"


def test_an_app_that_dies_mid_cell_is_named_and_started_again(tmp_path: Path) -> None:
    code, said, cells = one_cell(tmp_path, "crashes", "--clients", "requests,httpx")
    assert code == 0, said
    for cell in cells.values():
        assert cell["verdict"] == "ERROR"
        assert "the app died while the cell ran (exited with code 1;" in cell["detail"]
        assert "about to crash on" in cell["detail"]  # its log's tail
    log = (tmp_path / "results" / "app.log").read_text(encoding="utf-8")
    assert log.count("Started server process") >= 2  # started again after a death


def test_an_app_that_calls_the_upstream_but_never_answers_ends_at_the_head_window(
    tmp_path: Path,
) -> None:
    code, said, cells = one_cell(tmp_path, "mute", "--head-window", "2")
    assert code == 0, said
    (cell,) = cells.values()
    assert cell["verdict"] == "TIMEOUT"
    assert "no response head within 2 s of the app calling the fake upstream" in cell["detail"]


@pytest.mark.matrix
def test_scenarios_ask_whether_the_app_stops_its_upstream_and_tells_its_users(
    tmp_path: Path,
) -> None:
    # abort: the client leaves after token 5 — does the app close its call to the model
    # (the fake upstream sees the cancellation)? error: the upstream stream breaks after
    # token 5 — does the app's user hear of it?
    code, said, _ = streamcompat(
        tmp_path, *EXAMPLE_RUNS["langchain-app"], "--app-name", "langchain-app",
        "--clients", "httpx-sse,requests-sseclient", "--network", "direct",
        "--scenario", "abort,error", "--baseline", str(tmp_path / "none.json"),
    )  # fmt: skip
    assert code == 0, said
    index = json.loads((tmp_path / "results" / "index.json").read_text(encoding="utf-8"))
    verdicts = {(c["client"], c["scenario"]): c for c in index["cells"]}
    for client in ("httpx-sse", "requests-sseclient"):
        stopped, told = verdicts[client, "abort"], verdicts[client, "error"]
        assert stopped["verdict"] == "STOPPED", stopped
        assert "cancelled generation" in stopped["detail"]
        assert told["verdict"] == "TOLD", told
        assert "the client raised" in told["detail"]


@pytest.mark.skipif(
    not (shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")),
    reason="nginx not installed",
)
def test_an_app_behind_nginx_is_held_back_and_its_sse_app_is_not(tmp_path: Path) -> None:
    """What users saw (issue table): a text/plain pass-through held back behind nginx's
    defaults, sse-starlette's stream not (it sends X-Accel-Buffering: no)."""
    held = {}
    for name, clients in (("passthrough-app", "requests,curl"), ("langchain-app", "httpx-sse")):
        code, said, cells = streamcompat(
            tmp_path / name, *EXAMPLE_RUNS[name], "--app-name", name, "--clients", clients,
            "--network", "direct,nginx", "--baseline", str(tmp_path / "none.json"),
        )  # fmt: skip
        assert code == 0, said
        held |= {key: c["verdict"] for key, c in cells.items()}
        if name == "passthrough-app":
            assert "nginx made it BUFFERED" in cells[f"{name} × curl × nginx"]["detail"]
    assert held == {
        "passthrough-app × requests × direct": "PASS",
        "passthrough-app × curl × direct": "PASS",
        "passthrough-app × requests × nginx": "BUFFERED",
        "passthrough-app × curl × nginx": "BUFFERED",
        "langchain-app × httpx-sse × direct": "PASS",
        "langchain-app × httpx-sse × nginx": "PASS",
    }
