"""Server bytes and client words in every report, with markup in every position.

A server controls what its stream carries (tokens, header names and values, where a write
ends) and, through the client, the words of a client's error. Each report must show them
as text: report.html as a browser parses it, matrix.md as CommonMark (markdown-it-py, the
CommonMark reference's Python port) renders it with raw HTML allowed as GitHub takes it,
junit.xml as an XML parser reads it, and the terminal's lines with no control character a
terminal would act on. Each payload is placed once in each position, and in each position
once with nothing after it and once after a control character (the text after the last
control character is a case of its own for a renderer that escapes piece by piece).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from streamcompat.harness.outputs.baseline import compare
from streamcompat.harness.outputs.reports import write_reports
from streamcompat.harness.outputs.reports.terminal import plain
from streamcompat.harness.outputs.results import matrix_table, progress_line

#: Markup that means something to HTML, Markdown or XML, each kind of it.
MARKUP = (
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "]]><!--",
    "&amp;&lt;",
    "**bold** _it_ `code` | pipe [link](http://x)",
    "\\<b>escaped</b>",
)
#: A control character before the markup: the escapers that split at controls.
AFTER = ("", "\r\n", "\x1b[2J", "\x00", "\u2028")
CASES = [(m, a) for m in MARKUP for a in AFTER]
IDS = [f"{i}-{j}" for i in range(len(MARKUP)) for j in range(len(AFTER))]


class Page(HTMLParser):
    """The elements and the text a browser would build."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text += data


def index_with(payload: str) -> dict[str, Any]:
    """A run whose one failing cell carries ``payload`` in every position a server or
    client controls: a token (the detail quotes what was shown), the end of a write, a
    header's name and value, and the client's error."""
    write = "data: " + payload
    raw = write.encode("utf-8").decode("latin-1")  # index.json: one character per byte
    return {
        "schema": 1,
        "run": {"versions": {"python": "3.11.7"}, "wall_s": 1.0},
        "cells": [
            {
                "variant": "sse",
                "client": "requests",
                "network": "direct",
                "verdict": "ERROR",
                "detail": f"shown {payload!r}; client failed after 1 of 3 tokens: {payload}",
                "duration_ms": 5.0,
                "tokens": 3,
                "tokens_surfaced": 1,
                "emitted_ms": [1.0],
                "surfaced_ms": [1.2],
                "wire": {
                    "status": 200,
                    "headers": [[f"x-{raw}", raw]],
                    "server_sent": [[1.0, raw], [1.5, raw + "\n" + raw]],
                    "sent_bytes": 2 * len(raw),
                    "sent_writes": 2,
                    "ended_ms": 2.0,
                },
            }
        ],
    }


def reports(tmp_path: Path, payload: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    paths = write_reports(tmp_path, index_with(payload))
    return {p.name: p.read_text(encoding="utf-8") for p in paths}


@pytest.mark.parametrize(("markup", "before"), CASES, ids=IDS)
def test_report_html_shows_markup_as_text_in_every_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, markup: str, before: str
) -> None:
    payload = before + markup
    html = reports(tmp_path, payload, monkeypatch)["report.html"]
    page = Page(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert "onerror" not in page.attrs
    # The detail says it; the wire view shows it after ``data: ``, as a header's name and
    # value, and at the end of each write, its controls named.
    assert page.text.count(markup) >= 5, page.text
    if not before:
        assert f"x-data: {markup}: data: {markup}" in page.text
    # The findings quote the detail (its first characters) in their table, as text.
    found = re.search(r'<table class="findings">.*?</table>', html, re.S)
    assert found is not None
    assert markup in Page(found.group(0)).text or markup.startswith("\\")


@pytest.mark.parametrize(("markup", "before"), CASES, ids=IDS)
def test_matrix_md_renders_markup_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, markup: str, before: str
) -> None:
    md = reports(tmp_path, before + markup, monkeypatch)["matrix.md"]
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    page = Page(rendered)
    assert not {"script", "img", "strong", "em", "code", "a"} & set(page.tags), rendered
    # The detail quotes the shown text and the client's error: both are text, in the
    # cell's line and (cut short) in the findings' cause.
    assert page.text.count(markup) >= 3 or markup.startswith("\\"), page.text
    # A backslash the server sent stays one: it is escaped, not taken as an escape.
    assert markup.replace("\\", "") in page.text.replace("\\", "")


@pytest.mark.parametrize(("markup", "before"), CASES, ids=IDS)
def test_junit_xml_carries_the_detail_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, markup: str, before: str
) -> None:
    payload = before + markup
    root = ET.fromstring(reports(tmp_path, payload, monkeypatch)["junit.xml"])
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert len(root.findall(".//*")) == len(list(root.iter())) - 1  # no element of the payload
    assert {e.tag for e in root.iter()} <= {
        "testsuites", "testsuite", "properties", "property", "testcase", "failure"
    }  # fmt: skip
    xml_safe = payload.replace("\x1b", "\ufffd").replace("\x00", "\ufffd")
    assert f"client failed after 1 of 3 tokens: {xml_safe}" in failure.get("message", "")
    assert (failure.text or "").startswith(f"shown {payload!r}".replace("\x00", "\ufffd"))


@pytest.mark.parametrize(("markup", "before"), CASES, ids=IDS)
def test_terminal_lines_carry_no_control_a_terminal_acts_on(markup: str, before: str) -> None:
    payload = before + markup
    cell = Cell(f"v{before}", "requests")
    detail = f"client failed: {payload}"
    result = Result(cell, Verdict.ERROR, detail, None, None, None, 1.0, Facts([]))
    found = compare({cell.key: "PASS"}, [result])
    lines = [*found.lines(), progress_line(result, 1, 1), *matrix_table([result]).splitlines()]
    for line in lines:
        assert not any((ord(ch) < 0x20 and ch != "\t") or 0x7F <= ord(ch) <= 0x9F for ch in line)
        assert "\u2028" not in line
    assert found.lines() == [
        f"regression: {plain(cell.key)}: PASS → ERROR (client failed: {plain(payload)})"
    ]
    assert markup in found.lines()[0]  # markup means nothing to a terminal: kept as it is


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("over\rwrite", "over\\rwrite"),
        ("two\nlines", "two\\nlines"),
        ("bell\x07", "bell\\x07"),
        ("c1\x9b", "c1\\x9b"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
        ("tab\tkept, café 中文 🙂", "tab\tkept, café 中文 🙂"),
        ("", ""),
    ],
)
def test_plain_escapes_what_a_terminal_would_act_on_and_nothing_else(text: str, shown: str) -> None:
    assert plain(text) == shown
