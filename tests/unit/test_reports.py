"""The reports written from index.json: matrix.md, junit.xml and report.html.

All but the last test read the files as text; the last opens report.html in Chromium.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness.hosts.browser import CHROMIUM_FLAGS, find_chromium
from streamcompat.harness.outputs.reports import wire_html, write_reports

INJECTED = """shown '<script>alert("x")</script>' & "more" where 'Hello' was expected"""
BUFFERED_DETAIL = "content exact, but token 1 of 3 had not surfaced within the hold window"


def cell(variant: str, client: str, verdict: str, detail: str, **facts: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "variant": variant,
        "client": client,
        "network": "direct",
        "verdict": verdict,
        "detail": detail,
        "first_token_ms": None,
        "lag_ms_p50": None,
        "lag_ms_p99": None,
        "duration_ms": 5.0,
        "tokens": 3,
        "tokens_surfaced": 0,
        "stalled_at": None,
        "emitted_ms": [],
        "surfaced_ms": [],
    }
    record.update(facts)
    return record


#: What the server sent, as index.json stores it: latin-1 text, one character per byte.
WIRE = {
    "status": 200,
    "headers": [["content-type", "text/event-stream; charset=utf-8"]],
    "server_sent": [
        [1.0, "data: <script>x</script>\r\n\r\n"],
        [1.5, "data: caf\u00c3\u00a9 \u00ef\u00bb\u00bf \u00ff\n\n"],  # é, a BOM, a lone 0xff
        [2.0, "data: long", 66_000, "tail\n\n"],
    ],
    "sent_bytes": 66_060,
    "sent_writes": 3,
    "truncated": True,
    "ended_ms": 2.5,
}


def synthetic_index() -> dict[str, Any]:
    return {
        "schema": 1,
        "run": {
            "versions": {"python": "3.11.7", "chromium": "156.0"},
            "settings": {"hold_window_s": 1.0, "deadline_s": 30.0},
            "wall_s": 2.5,
            "variants": ["builtin"],
        },
        "cells": [
            cell(
                "raw", "requests", "PASS", "all 3 tokens surfaced, exact",
                first_token_ms=1.2, lag_ms_p50=0.2, lag_ms_p99=0.2, duration_ms=30.0,
                tokens_surfaced=3, emitted_ms=[1.0, 2.0, 3.0], surfaced_ms=[1.2, 2.2, 3.2],
            ),
            cell(
                "raw", "requests-lines", "BUFFERED", BUFFERED_DETAIL,
                first_token_ms=1002.0, lag_ms_p50=0.9, lag_ms_p99=1001.0, duration_ms=1003.0,
                tokens_surfaced=3, stalled_at=1,
                emitted_ms=[1.0, 1001.0, 1001.1], surfaced_ms=[1002.0, 1002.0, 1002.0],
            ),
            cell("sse", "requests", "CORRUPT", INJECTED, emitted_ms=[1.0, 1.5, 2.0], wire=WIRE),
            cell("sse", "requests-lines", "UNSUPPORTED", "cannot POST", duration_ms=0.5),
        ],
    }  # fmt: skip


KEYS = [f"{c['variant']} × {c['client']} × direct" for c in synthetic_index()["cells"]]


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    paths = write_reports(tmp_path / "reports", synthetic_index())
    return {p.name: p for p in paths}


class Page(HTMLParser):
    """What a browser would build from report.html: elements with attributes, and text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, cls: str = "") -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and (not cls or cls in a.get("class", "").split())
        ]


def test_write_reports_returns_the_three_files(written: dict[str, Path]) -> None:
    assert sorted(written) == ["junit.xml", "matrix.md", "report.html"]
    assert all(p.stat().st_size > 0 for p in written.values())


def test_matrix_md_marks_every_cell(written: dict[str, Path]) -> None:
    text = written["matrix.md"].read_text(encoding="utf-8")
    header = text.splitlines()[0]
    assert "4 cells: 1 PASS, 1 BUFFERED, 1 UNSUPPORTED, 1 CORRUPT" in header
    assert "wall time 2.5 s" in header
    assert "| variant | requests | requests-lines |" in text
    assert "| raw | ✅ PASS | ❌ BUFFERED |" in text
    assert "| sse | ❌ CORRUPT | ➖ UNSUPPORTED |" in text


def test_matrix_md_gives_a_reason_line_per_non_pass_cell(written: dict[str, Path]) -> None:
    reasons = [
        line
        for line in written["matrix.md"].read_text(encoding="utf-8").splitlines()
        if line.startswith("- ")
    ]
    assert reasons == [
        f"- raw × requests-lines × direct: BUFFERED — {BUFFERED_DETAIL}",
        # Escaped for Markdown: a GitHub summary must not read the detail as HTML.
        """- sse × requests × direct: CORRUPT — shown '\\<script>alert("x")\\</script>' """
        """\\& "more" where 'Hello' was expected""",
        "- sse × requests-lines × direct: UNSUPPORTED — cannot POST",
    ]


def test_matrix_md_is_appended_to_the_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_reports(tmp_path / "reports", synthetic_index())
    matrix = (tmp_path / "reports" / "matrix.md").read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + matrix + "\n"


def test_no_step_summary_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_reports(tmp_path, synthetic_index())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "matrix.md", "report.html"]


def test_junit_counts_failures_and_skips(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit.xml"]).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    for element in (root, suite):
        assert element.get("tests") == "4"
        assert element.get("failures") == "2"  # BUFFERED is a failure too
        assert element.get("skipped") == "1"
        assert element.get("errors") == "0"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == [
        "raw × requests",
        "raw × requests-lines",
        "sse × requests",
        "sse × requests-lines",
    ]
    assert {case.get("classname") for case in cases.values()} == {"streamcompat.direct"}
    assert cases["raw × requests"].get("time") == "0.030"
    assert len(cases["raw × requests"]) == 0
    buffered = cases["raw × requests-lines"].find("failure")
    assert buffered is not None and buffered.get("message") == f"BUFFERED: {BUFFERED_DETAIL}"
    skipped = cases["sse × requests-lines"].find("skipped")
    assert skipped is not None and skipped.get("message") == "UNSUPPORTED: cannot POST"
    assert cases["sse × requests-lines"].find("failure") is None


def test_junit_keeps_the_detail_intact(written: dict[str, Path]) -> None:
    raw = written["junit.xml"].read_text(encoding="utf-8")
    assert "<script>" not in raw
    case = next(
        c
        for c in ET.parse(written["junit.xml"]).getroot().iter("testcase")
        if c.get("name") == "sse × requests"
    )
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == f"CORRUPT: {INJECTED}"
    assert failure.get("type") == "CORRUPT"
    assert (failure.text or "").startswith(INJECTED)


def test_report_html_is_self_contained(written: dict[str, Path]) -> None:
    text = written["report.html"].read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    page = Page(text)
    assert not page.find("script") and not page.find("link") and not page.find("iframe")
    targets = [a[name] for _, a in page.elements for name in ("src", "href") if name in a]
    assert targets and all(t.startswith("#") for t in targets)
    ids = {a["id"] for _, a in page.elements if "id" in a}
    assert {t[1:] for t in targets} <= ids  # every link lands on a section or a matrix


def test_report_html_has_one_timeline_per_cell(written: dict[str, Path]) -> None:
    page = Page(written["report.html"].read_text(encoding="utf-8"))
    timelines = page.find("svg", "timeline")
    assert [t["data-cell"] for t in timelines] == KEYS
    matrices = re.findall(r'<table class="matrix".*?</table>', written["report.html"].read_text())
    matrix_links = re.findall(r'href="(#cell-\d+)"', "".join(matrices))
    assert sorted(matrix_links) == [f"#cell-{i}" for i in range(len(KEYS))]


def test_report_html_escapes_the_detail(written: dict[str, Path]) -> None:
    text = written["report.html"].read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    page = Page(text)
    assert not page.find("script")
    assert INJECTED in page.text  # the paragraph shows the detail exactly


def wire_rows(text: str) -> list[tuple[str, str]]:
    """The rows of each wire table: (time, the cell's HTML)."""
    return re.findall(r"<tr><th>([^<]*)</th><td>(.*?)</td></tr>", text, re.S)


def test_report_html_shows_what_the_server_sent_beside_the_timeline(
    written: dict[str, Path],
) -> None:
    text = written["report.html"].read_text(encoding="utf-8")
    page = Page(text)
    assert len(page.find("details", "wire")) == 1  # only the cell that has a wire
    section = re.search(r'<section class="cell v-CORRUPT".*?</section>', text, re.S)
    assert section is not None and '<details class="wire">' in section.group(0)
    assert "3 writes, 66,060 bytes (some bytes not kept)" in section.group(0)
    rows = wire_rows(section.group(0))
    assert rows[0] == ("head", "HTTP 200<br>content-type: text/event-stream; charset=utf-8")
    # Bytes as text, escaped for HTML; CR and LF as visible marks, a line break after LF.
    assert rows[1] == (
        "1.00 ms",
        "data: &lt;script&gt;x&lt;/script&gt;<b>\\r</b><b>\\n</b>\n<b>\\r</b><b>\\n</b>",
    )
    # UTF-8 as itself; a BOM and a byte that is not UTF-8 as marked escapes.
    assert rows[2] == ("1.50 ms", "data: café <b>\\ufeff</b> <b>\\xff</b><b>\\n</b>\n<b>\\n</b>")
    assert rows[3] == (
        "2.00 ms",
        "data: long<i>… 66,000 bytes not kept …</i>tail<b>\\n</b>\n<b>\\n</b>",
    )
    assert rows[4] == ("2.50 ms", "<i>body ended</i>")


def test_the_wire_says_a_shaping_network_came_after_it() -> None:
    shaped = wire_html(cell("sse", "curl", "CORRUPT", "", network="split", wire=WIRE))
    assert "the split network&#x27;s proxy then reshaped them" in shaped
    unended = wire_html(cell("sse", "curl", "TIMEOUT", "", wire={**WIRE, "ended_ms": None}))
    assert "the body had not ended when the cell did" in unended
    assert wire_html(cell("sse", "curl", "UNSUPPORTED", "", wire=None)) == ""
    assert wire_html(cell("sse", "curl", "PASS", "")) == ""  # an index from before the wire


def timeline_marks(text: str) -> dict[str, set[str]]:
    """Per cell, the kinds of mark its timeline draws (ok, held, lost, stall, ...)."""
    found: dict[str, set[str]] = {}
    for svg in re.findall(r'<svg class="timeline".*?</svg>', text):
        key = re.search(r'data-cell="([^"]*)"', svg)
        assert key is not None
        classes = re.findall(r'<(?:path|rect) class="([^"]*)"', svg)
        found[key.group(1)] = {word for c in classes for word in c.split()}
    return found


def test_timelines_tell_pass_from_buffered(written: dict[str, Path]) -> None:
    marks = timeline_marks(written["report.html"].read_text(encoding="utf-8"))
    passed, buffered, corrupt, unsupported = (marks[k] for k in KEYS)
    assert {"emit", "ok", "dot"} <= passed and not passed & {"held", "lost", "stall"}
    assert {"emit", "held", "dot", "stall"} <= buffered
    assert {"emit", "lost"} <= corrupt and "dot" not in corrupt
    assert not unsupported & {"emit", "ok", "held", "lost"}


@pytest.mark.browser
def test_report_html_renders_in_chromium(written: dict[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        # None: Playwright's own Chromium, when there is no system one.
        chosen = find_chromium()
        try:
            browser = p.chromium.launch(executable_path=chosen, args=CHROMIUM_FLAGS)
        except Error as e:
            pytest.skip(f"no Chromium can be launched: {e.message.splitlines()[0]}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            requested: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            page.goto(written["report.html"].resolve().as_uri())
            count = page.evaluate("document.querySelectorAll('svg.timeline').length")
            # The findings come first: a row per non-passing cell here (no references run).
            findings = page.evaluate(
                "[document.querySelectorAll('table.findings tbody tr').length,"
                " document.querySelector('table.findings').getBoundingClientRect().top <"
                " document.querySelector('table.matrix').getBoundingClientRect().top]"
            )
            page.click("details.wire summary")  # unfolds what the server sent
            wire_height = page.evaluate(
                "document.querySelector('table.wire').getBoundingClientRect().height"
            )
            sizes = page.evaluate(
                "[...document.querySelectorAll('svg.timeline')]"
                ".map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
            )
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith("file:") for url in requested), requested
    assert count == len(KEYS)
    assert findings == [3, True]
    assert wire_height > 50  # five rows, shown once unfolded
    assert all(w > 100 and h > 20 for w, h in sizes), sizes
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_report_includes_the_spec_differential_when_it_ran(tmp_path: Path) -> None:
    differential = {
        "schema": 1,
        "cases": 2,
        "outcomes": [
            {"case": "crlf-split", "client": "requests-lines", "network": "split",
             "expected": ["a\nb"], "got": ["a", "b"], "error": "", "deviates": True, "why": "w"},
            {"case": "crlf-split", "client": "httpx-sse", "network": "split",
             "expected": ["a\nb"], "got": ["a\nb"], "error": "", "deviates": False, "why": "w"},
        ],
    }  # fmt: skip
    (tmp_path / "differential.json").write_text(json.dumps(differential), encoding="utf-8")
    write_reports(tmp_path, {"schema": 1, "run": {}, "cells": []})
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Spec differential" in html and "1 of 2 corpus cases" in html
    assert "got [&#x27;a&#x27;, &#x27;b&#x27;]" in html and ">DIFF<" in html and ">ok<" in html


def test_cell_record_places_the_cell_on_the_runs_timeline() -> None:
    from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
    from streamcompat.harness.outputs.results import cell_record

    facts = Facts(tokens=["a"])
    facts.started_at = 102.5
    result = Result(Cell("sse", "aiohttp", "direct"), Verdict.PASS, "", 1.0, 0.1, 0.1, 5.0, facts)
    assert cell_record(result, run_began=100.0)["started_ms"] == 2500.0
    assert cell_record(result)["started_ms"] is None


def test_scenario_cells_get_their_own_matrix_and_their_passing_words_pass() -> None:
    from streamcompat.harness.outputs.reports import junit_xml, matrix_markdown, report_html

    index = synthetic_index()
    index["cells"] = [
        cell("raw", "httpx", "PASS", "all 3 tokens surfaced, exact"),
        cell("raw", "httpx", "STOPPED", "the client left after token 1", scenario="abort"),
        cell("detached", "httpx", "LEAK", "generation went on", scenario="abort"),
        cell("raw", "httpx", "TOLD", "the client raised", scenario="error"),
    ]
    md = matrix_markdown(index)
    assert "### network: direct\n" in md and "### network: direct × abort" in md
    assert "- detached × httpx × direct × abort: LEAK — generation went on" in md
    assert "STOPPED —" not in md and "TOLD —" not in md  # passing: no reason line
    root = ET.fromstring(junit_xml(index))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"streamcompat.direct", "streamcompat.direct.abort",
                           "streamcompat.direct.error"}  # fmt: skip
    assert suites["streamcompat.direct.abort"].get("failures") == "1"
    assert suites["streamcompat.direct.error"].get("failures") == "0"
    assert "network direct × abort" in report_html(index)


def _svg(**facts: Any) -> str:
    from streamcompat.harness.outputs.reports import timeline_svg

    return timeline_svg(cell("raw", "requests", "BUFFERED", "", **facts), "c1")


@pytest.mark.parametrize(
    ("facts", "says", "not_said"),
    [
        # The stalled token was never emitted: the band alone, no words for a stall.
        ({"tokens": 2, "stalled_at": 2, "emitted_ms": [1.0], "surfaced_ms": [1.2]},
         ['class="stall"'], ["token 2 stalled"]),
        # It was emitted and never surfaced: said so, up to the cell's end.
        ({"tokens": 2, "stalled_at": 2, "emitted_ms": [1.0, 2.0], "surfaced_ms": [1.2]},
         ["token 2 stalled, never surfaced"], ["surfaced 0"]),
        ({"tokens": 2, "stalled_at": 2, "emitted_ms": [1.0, 2.0], "surfaced_ms": [1.2, 1002.0]},
         ["token 2 stalled, surfaced 1000 ms later"], ["never surfaced"]),
    ],
)  # fmt: skip
def test_a_timeline_draws_what_the_index_has_of_each_token(
    facts: dict[str, Any], says: list[str], not_said: list[str]
) -> None:
    svg = _svg(duration_ms=1005.0, **facts)
    assert all(words in svg for words in says), svg
    assert not any(words in svg for words in not_said), svg


def test_a_token_with_no_emitted_time_has_its_row_and_no_tick() -> None:
    # A malformed or cut index: the other tokens are drawn.
    svg = _svg(tokens=2, emitted_ms=[None, 2.0], surfaced_ms=[None, 2.5], duration_ms=5.0)
    assert ">#1</text>" in svg and ">#2</text>" in svg
    assert svg.count('class="emit"') == 1 and svg.count('class="dot ok"') == 1


def test_a_pair_the_run_did_not_play_is_a_blank_cell_of_the_html_matrix(tmp_path: Path) -> None:
    index = synthetic_index()
    played = index["cells"]
    index["cells"] = [c for c in played if (c["variant"], c["client"]) != ("raw", "requests")]
    page = (write_reports(tmp_path, index)[-1]).read_text(encoding="utf-8")
    matrix = re.search(r'<table class="matrix".*?</table>', page)
    assert matrix is not None
    rows = re.findall(r"<tr><th[^>]*>raw</th>(.*?)</tr>", matrix.group(0))
    assert rows and rows[0].count("<td></td>") == 1 and rows[0].count("<td class=") == 1, rows


def test_a_cell_card_lists_what_is_known_of_its_server_once() -> None:
    said = "pass detail"
    index = {"schema": 1, "run": {}, "cells": [
        cell("raw", "curl", "PASS", said, server="daphne"),
        cell("raw", "httpx", "TIMEOUT", "waited — known of daphne: …", server="daphne"),
        cell("raw", "aiohttp", "PASS", said),
    ]}  # fmt: skip
    from streamcompat.harness.outputs.reports import report_html

    html = report_html(index)
    # The PASS card's; the TIMEOUT card's detail says it already.
    assert html.count('<p class="muted-note">known of daphne: django/daphne#413') == 1
    assert "known of uvicorn" not in html
