"""App mode's pure parts: the request built from the user's templates, the checks of
what the user gave, the upstream's stream marker, and the config file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from streamcompat.harness import cli
from streamcompat.harness.engine.app import App, AppError, fill, marker
from streamcompat.harness.front import config
from streamcompat.servers.upstream import find_stream

STREAM = "0123456789abcdef"
AWKWARD = 'say "hi"\\n\n{prompt} ünï 😀'


def test_fill_substitutes_inside_json_values_so_any_prompt_stays_valid() -> None:
    template = json.loads('{"message": "{prompt}", "history": [{"q": "x {prompt} y"}], "n": 1}')
    filled = fill(template, AWKWARD)
    assert filled == {"message": AWKWARD, "history": [{"q": f"x {AWKWARD} y"}], "n": 1}
    assert json.loads(json.dumps(filled)) == filled


def test_a_post_request_carries_the_marker_in_the_body() -> None:
    app = App("serve --port {port}", body='{"input": {"text": "{prompt}"}, "stream": true}')
    url, body = app.request("http://127.0.0.1:5", STREAM)
    assert url == "http://127.0.0.1:5/chat"
    assert marker(STREAM) in body["input"]["text"] and body["stream"] is True


def test_a_get_request_carries_the_marker_in_its_query_encoded() -> None:
    app = App("serve --port {port}", endpoint="GET /ask?q={prompt}&lang=en")
    url, body = app.request("http://127.0.0.1:5", STREAM)
    parts = urlsplit(url)
    assert parts.path == "/ask" and body == {}
    query = parse_qs(parts.query)
    assert marker(STREAM) in query["q"][0] and query["lang"] == ["en"]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"command": "uvicorn main:app"}, "has no {port}"),
        ({"command": ""}, "--app is empty"),
        ({"endpoint": "PUT /chat"}, "expected 'POST /path'"),
        ({"endpoint": "GET /chat"}, "needs {prompt} in its query"),
        ({"body": "{message: 1}"}, "--body is not JSON"),
        ({"body": '["{prompt}"]'}, "must be a JSON object"),
        ({"body": '{"message": "hi"}'}, "has no {prompt}"),
        ({"codec": "xml"}, "unknown codec 'xml'"),
        ({"start_timeout": 0.0}, "must be positive"),
    ],
)
def test_what_cannot_work_is_refused_in_one_sentence(given: dict[str, object], says: str) -> None:
    fields: dict[str, object] = {"command": "uvicorn main:app --port {port}", **given}
    with pytest.raises(AppError) as raised:
        App(**fields)  # type: ignore[arg-type]
    assert says in str(raised.value)


def test_the_upstream_finds_the_marker_in_string_and_part_contents() -> None:
    prompt = f"Hello {marker(STREAM)}"
    as_text = {"messages": [{"role": "system", "content": "be brief"}, {"content": prompt}]}
    as_parts = {"messages": [{"content": [{"type": "text", "text": prompt}]}]}
    assert find_stream(as_text) == STREAM
    assert find_stream(as_parts) == STREAM
    assert find_stream({"messages": [{"content": "no marker here"}]}) == ""
    assert find_stream({"messages": "not a list"}) == ""
    assert find_stream(["not", "an", "object"]) == ""


def parse(directory: Path, *argv: str) -> argparse.Namespace:
    top = cli.parser()
    config.apply(cli._subcommand(top, "run"), list(argv), directory)
    return top.parse_args(["run", *argv])


def test_the_config_file_supplies_defaults_and_flags_override_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'mine'\n\n[tool.streamcompat]\n"
        'app = "uvicorn mine:app --port {port}"\n'
        'endpoint = "POST /ask"\n'
        'clients = ["requests", "curl"]\n'
        'network = "direct"\n'
        'baseline = "streamcompat-baseline.json"\n'
        "app-start-timeout = 12\n",
        encoding="utf-8",
    )
    args = parse(tmp_path)
    assert args.app == "uvicorn mine:app --port {port}"
    assert args.clients == ["requests", "curl"]
    assert args.network == ["direct"]
    assert args.baseline == Path("streamcompat-baseline.json")
    assert args.app_start_timeout == 12.0
    flagged = parse(tmp_path, "--clients", "httpx", "--endpoint=POST /other")
    assert flagged.clients == ["httpx"]
    assert flagged.endpoint == "POST /other"
    assert flagged.network == ["direct"]


def test_a_streamcompat_toml_is_read_when_the_pyproject_has_no_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n", encoding="utf-8")
    (tmp_path / "streamcompat.toml").write_text('codec = "json:token"\n', encoding="utf-8")
    assert parse(tmp_path).codec == "json:token"


def test_unknown_keys_end_the_run_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "streamcompat.toml").write_text(
        'clients = "requests"\nendpont = "POST /chat"\nnetworks = "split"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 2
    said = capsys.readouterr().err
    assert "unknown key(s)" in said and "endpont, networks" in said
    assert "Traceback" not in said


def test_a_value_of_the_wrong_kind_is_named(tmp_path: Path) -> None:
    (tmp_path / "streamcompat.toml").write_text("clients = 3\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match="clients must be a string or a list"):
        parse(tmp_path)


def test_the_report_says_whose_bytes_the_wire_shows_and_names_the_app() -> None:
    from streamcompat.harness.outputs.reports import report_html, wire_html

    wire = {"status": 200, "headers": [], "server_sent": [[1.0, "data: x\n\n"]],
            "sent_bytes": 9, "sent_writes": 1, "ended_ms": 2.0}  # fmt: skip
    cell = {"variant": "myapp", "client": "curl", "network": "split", "verdict": "PASS"}
    assert "what the fake upstream sent the app" in wire_html(
        {**cell, "wire": wire, "app": "myapp"}
    )
    assert "proxy then reshaped" not in wire_html({**cell, "wire": wire, "app": "myapp"})
    assert "what the server sent" in wire_html({**cell, "wire": wire})
    run = {"variants": [], "app": {"name": "myapp", "command": "uvicorn m:app --port {port}"}}
    assert "uvicorn m:app --port {port}" in report_html({"run": run, "cells": [cell]}, None)
