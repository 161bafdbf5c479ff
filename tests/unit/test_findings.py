"""What the reports lead with: client columns grouped by what they read, a client on a
framing it does not parse muted, and the findings (``outputs.reports.readers``,
``outputs.reports.findings``), each rule as a table; then the default run's findings,
from its pinned baseline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamcompat.clients import CLIENTS
from streamcompat.harness.outputs.reports import matrix_markdown, report_html
from streamcompat.harness.outputs.reports.findings import Finding, findings, muted
from streamcompat.harness.outputs.reports.readers import Readers, framing_of
from streamcompat.harness.outputs.reports.terminal import findings_text, terminal_text
from streamcompat.harness.outputs.results import readers
from streamcompat.servers.variants import VARIANTS
from tests.support import ROOT

#: Clients of each kind, as index.json's ``run.clients`` has them.
CLIENT_RECORDS = {
    "curl": {"kind": "chunk", "codecs": None},
    "lines": {"kind": "line", "codecs": None},
    "es": {"kind": "event", "codecs": None},
    "parser": {"kind": "event", "codecs": None},
    "sdk": {"kind": "event", "codecs": ["openai"]},
}
#: Streams of each framing, as ``run.streams`` has them.
STREAM_RECORDS = {
    "raw": {"codec": "text", "content_type": "text/plain", "framing": None},
    "raw-event-stream": {"codec": "text", "content_type": "text/event-stream", "framing": "text"},
    "sse": {"codec": "text", "content_type": "text/event-stream", "framing": None},
    "sse-cr": {"codec": "text", "content_type": "text/event-stream", "framing": None},
    "ndjson": {"codec": "json:token", "content_type": "application/x-ndjson", "framing": None},
    "openai": {"codec": "openai", "content_type": "text/event-stream", "framing": None},
    "app": {"codec": "text", "content_type": "", "framing": None},  # known once it answered
}


def cell(variant: str, client: str, verdict: str = "PASS", **more: Any) -> dict[str, Any]:
    return {"variant": variant, "client": client, "network": "direct", "scenario": "stream",
            "verdict": verdict, "detail": f"{verdict.lower()} detail", **more}  # fmt: skip


def run_of(cells: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "run": {"clients": CLIENT_RECORDS, "streams": STREAM_RECORDS, **run},
        "cells": cells,
    }


def readers_of(index: dict[str, Any]) -> Readers:
    return Readers(index, index["cells"])


@pytest.mark.parametrize(
    ("content_type", "framing"),
    [("text/event-stream; charset=utf-8", "sse"), ("TEXT/EVENT-STREAM", "sse"),
     ("application/x-ndjson", "lines"), ("application/jsonl", "lines"),
     ("text/plain; charset=utf-8", "text"), ("application/json", "text"), ("", "")],
)  # fmt: skip
def test_a_content_type_announces_a_framing(content_type: str, framing: str) -> None:
    assert framing_of(content_type) == framing


def test_columns_are_grouped_by_what_their_clients_read_in_the_groups_order() -> None:
    index = run_of([])
    clients = ["sdk", "es", "mystery", "curl", "lines", "parser"]
    assert readers_of(index).columns(clients) == [
        ("bytes", ["curl"]),
        ("lines", ["lines"]),
        ("SSE events", ["es", "parser"]),  # in the run's order within a group
        ("SDK", ["sdk"]),  # restricted to a codec: an SDK, whatever its unit
        ("", ["mystery"]),  # a client the index does not describe
    ]


def test_an_index_without_the_records_has_one_group_and_mutes_nothing() -> None:
    old = {"schema": 1, "run": {}, "cells": [cell("sse", "curl", "CORRUPT")]}
    known = readers_of(old)
    assert known.columns(["curl", "es"]) == [("", ["curl", "es"])]
    assert known.mismatch("sse", "curl") is None
    assert [(f.variant, f.clients, f.compared) for f in findings(old["cells"], known)] == [
        ("sse", ("curl",), "no reference run")
    ]


@pytest.mark.parametrize(
    ("variant", "client", "muted_as"),
    [
        ("raw", "curl", None),
        ("raw", "lines", None),  # a line reader reads text, one line at a time
        ("raw", "es", "SSE events on plain text"),
        ("raw", "sdk", "SDK on another API's stream"),
        ("raw-event-stream", "curl", None),  # unframed text, whatever its content type says
        ("raw-event-stream", "es", None),  # ... which invites an SSE parser
        ("sse", "curl", "bytes on SSE"),
        ("sse", "lines", "lines on SSE"),
        ("sse", "es", None),
        ("sse", "sdk", "SDK on another API's stream"),
        ("ndjson", "curl", "bytes on JSON lines"),
        ("ndjson", "lines", None),
        ("ndjson", "es", "SSE events on JSON lines"),
        ("openai", "sdk", None),
        ("openai", "es", None),  # a parser decodes any codec's events
        ("unknown-variant", "curl", None),  # nothing known: never muted
        ("sse", "unknown-client", None),
    ],
)
def test_a_client_is_muted_on_a_framing_its_kind_does_not_parse(
    variant: str, client: str, muted_as: str | None
) -> None:
    mismatch = readers_of(run_of([])).mismatch(variant, client)
    assert (mismatch.label if mismatch else None) == muted_as
    if mismatch:
        assert mismatch.hint and "framing these clients do not parse" not in mismatch.hint


@pytest.mark.parametrize(
    ("told", "curl_muted", "es_muted"),
    [("text/event-stream", True, False), ("text/plain", False, True), (None, False, False)],
)
def test_an_apps_framing_is_what_its_clients_were_told(
    told: str | None, curl_muted: bool, es_muted: bool
) -> None:
    index = run_of([cell("app", "curl", content_type=told), cell("app", "es", content_type=told)])
    known = readers_of(index)
    assert bool(known.mismatch("app", "curl")) is curl_muted
    assert bool(known.mismatch("app", "es")) is es_muted


def said(found: list[Finding]) -> list[tuple[str, str, tuple[str, ...], str, str]]:
    return [(f.variant, f.verdict, f.clients, f.compared, f.where) for f in found]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # A client compared with itself on its reference: only a difference is a finding.
        ([cell("sse", "es"), cell("sse-cr", "es", "BUFFERED"),
          cell("sse", "parser", "CORRUPT"), cell("sse-cr", "parser", "CORRUPT")],
         [("sse", "CORRUPT", ("parser",), "the reference", ""),
          ("sse-cr", "BUFFERED", ("es",), "sse: PASS", "")]),
        # Better than on the reference is a difference too.
        ([cell("sse", "parser", "CORRUPT"), cell("openai", "parser")],
         [("sse", "CORRUPT", ("parser",), "the reference", ""),
          ("openai", "PASS", ("parser",), "sse: CORRUPT", "")]),
        # No reference in the run: compared with a pass.
        ([cell("sse-cr", "es", "BUFFERED"), cell("sse-cr", "parser")],
         [("sse-cr", "BUFFERED", ("es",), "no reference run", "")]),
        # Muted cells are never findings; a byte reader's reference is raw.
        ([cell("raw", "curl"), cell("sse", "curl", "CORRUPT"),
          cell("raw-event-stream", "curl", "BUFFERED")],
         [("raw-event-stream", "BUFFERED", ("curl",), "raw: PASS", "")]),
        # An SDK's reference is the run's first stream of its codec.
        ([cell("openai", "sdk", "CORRUPT"), cell("raw", "sdk", "UNSUPPORTED")],
         [("openai", "CORRUPT", ("sdk",), "the reference", "")]),
        # Clients that differ alike share a line (figures aside); another cause, its own.
        ([cell("sse-cr", "es", "BUFFERED", detail="held 12 ms"),
          cell("sse-cr", "parser", "BUFFERED", detail="held 3 ms"),
          cell("sse-cr", "curl", "CORRUPT"), cell("sse-cr", "sdk", "UNSUPPORTED")],
         [("sse-cr", "BUFFERED", ("es", "parser"), "no reference run", "")]),
        ([cell("sse-cr", "es", "SILENT", detail="no end marker"),
          cell("sse-cr", "parser", "SILENT", detail="nothing at all")],
         [("sse-cr", "SILENT", ("es",), "no reference run", ""),
          ("sse-cr", "SILENT", ("parser",), "no reference run", "")]),
        # A difference on some networks only says where; a scenario is named.
        ([cell("sse", "es"), cell("sse", "es", network="split"),
          cell("sse-cr", "es"), cell("sse-cr", "es", "BUFFERED", network="split")],
         [("sse-cr", "BUFFERED", ("es",), "sse: PASS", "on split")]),
        ([cell("sse", "es", "STOPPED", scenario="abort"),
          cell("sse-cr", "es", "LEAK", scenario="abort")],
         [("sse-cr", "LEAK", ("es",), "sse: STOPPED", "abort")]),
        # Under another server a row is variant@server, compared with its own reference
        # there; a run with no cell on the default server has findings too.
        ([cell("sse", "es"), cell("sse", "es", "SILENT", server="daphne"),
          cell("sse-cr", "es", server="daphne")],
         [("sse@daphne", "SILENT", ("es",), "the reference", ""),
          ("sse-cr@daphne", "PASS", ("es",), "sse@daphne: SILENT", "")]),
        ([cell("raw", "curl", "BUFFERED", server="granian"),
          cell("raw", "curl", server="hypercorn")],
         [("raw@granian", "BUFFERED", ("curl",), "the reference", "")]),
    ],
)  # fmt: skip
def test_findings_are_the_cells_that_differ_from_their_client_on_the_reference(
    cells: list[dict[str, Any]], expected: list[tuple[str, ...]]
) -> None:
    index = run_of(cells)
    assert said(findings(index["cells"], readers_of(index))) == expected


def test_findings_follow_the_matrix_order_of_variants_and_columns() -> None:
    cells = [cell("sse-cr", "parser", "BUFFERED"), cell("raw", "lines", "BUFFERED"),
             cell("sse-cr", "es", "SILENT"), cell("raw", "curl", "BUFFERED")]  # fmt: skip
    index = run_of(cells)
    assert [(f.variant, f.clients) for f in findings(cells, readers_of(index))] == [
        ("sse-cr", ("parser",)),  # the run met parser first: its column comes first
        ("sse-cr", ("es",)),
        ("raw", ("curl", "lines")),  # bytes before lines, whatever the run's order
    ]


def test_a_row_under_another_server_is_its_own_finding_compared_under_that_server() -> None:
    # raw under hypercorn holds curl back, raw under uvicorn does not: raw-event-stream under
    # hypercorn is compared with hypercorn's raw. A row that only runs under a server (a
    # WSGI framework's) is a finding of its own, by its row's name.
    cells = [cell("raw", "curl"), cell("raw", "curl", "BUFFERED", server="hypercorn"),
             cell("raw-event-stream", "curl", "PASS", server="hypercorn"),
             cell("flask", "curl", "BUFFERED", server="gunicorn")]  # fmt: skip
    index = run_of(cells, streams={**STREAM_RECORDS, "flask": STREAM_RECORDS["raw"]})
    assert [(f.variant, f.compared) for f in findings(cells, readers_of(index))] == [
        ("raw@hypercorn", "the reference"),
        ("raw-event-stream@hypercorn", "raw@hypercorn: BUFFERED"),
        ("flask@gunicorn", "no reference run"),
    ]


def test_muted_cells_are_counted_per_kind_of_mismatch_most_first() -> None:
    cells = [cell("sse", "curl", "CORRUPT"), cell("sse-cr", "curl", "CORRUPT"),
             cell("raw", "es", "ERROR"), cell("raw", "curl")]  # fmt: skip
    index = run_of(cells)
    quiet = muted(cells, readers_of(index))
    assert [(m.label, len(those)) for m, those in quiet.items()] == [
        ("bytes on SSE", 2),
        ("SSE events on plain text", 1),
    ]
    said = findings_text(index).splitlines()
    assert said[0] == "findings: 0 cells whose verdict differs from that of"
    assert said[-2:] == [
        "  bytes on SSE: 2 cells (2 CORRUPT): shown as it came: the SSE framing (data: lines, "
        "blank lines) with it",
        "  SSE events on plain text: 1 cell (1 ERROR): no events in unframed text: refused for "
        "its content type, or silent",
    ]


def test_every_report_opens_with_the_findings_and_mutes_the_same_cells() -> None:
    cells = [cell("sse", "es"), cell("sse", "curl", "CORRUPT"),
             cell("sse-cr", "es", "BUFFERED"), cell("sse-cr", "curl", "CORRUPT")]  # fmt: skip
    index = run_of(cells)
    text = terminal_text(index)
    assert text.index("findings:") > text.index("network: direct")  # last: on screen at the end
    assert "corrupt" in text and "CORRUPT" not in text.split("findings:")[0]
    md = matrix_markdown(index)
    assert md.index("### Findings") < md.index("### network: direct")
    assert "| sse-cr | ❌ BUFFERED | es | sse: PASS | buffered detail |" in md
    assert "| sse | · corrupt | ✅ PASS |" in md
    assert "- sse × curl × direct" not in md  # no reason line for a muted cell
    html = report_html(index)
    assert html.index("<h2>Findings</h2>") < html.index('<table class="matrix"')
    assert html.count('<td class="muted">') == 2
    assert 'colspan="1" class="group">bytes</th>' in html


def default_run() -> dict[str, Any]:
    """The default run as its pinned baseline has it, each detail its verdict's word."""
    pinned = json.loads((ROOT / "compat-baseline.json").read_text(encoding="utf-8"))["cells"]
    clients = [c for c in CLIENTS if c.by_default]
    cells = [
        cell(v.name, c.name, pinned[key], network=network, content_type=v.content_type)
        for v in VARIANTS
        for c in clients
        for network in ("direct", "split")
        if (key := f"{v.name} × {c.name} × {network}") in pinned
    ]
    return {"schema": 1, "run": readers(clients, VARIANTS), "cells": cells}


def test_the_default_runs_findings_are_the_ones_that_matter_on_one_screen() -> None:
    index = default_run()
    known = readers_of(index)
    found = {(f.variant, f.verdict): set(f.clients) for f in findings(index["cells"], known)}
    assert {"httpx-sse", "browser-fetch-sse"} <= found["sse-cr", "BUFFERED"]
    assert {"httpx-sse", "requests-sseclient"} <= found["sse-bom", "CORRUPT"]
    assert "browser-eventsource" in found["sse-named", "REPLAYS"]
    assert {"browser-eventsource", "httpx-sse", "requests-sseclient"} <= found[
        "sse-naive", "CORRUPT"
    ]
    assert "browser-axios" in found["raw", "BUFFERED"]
    sse = [name for name, record in index["run"]["streams"].items()
           if framing_of(record["content_type"]) == "sse" and not record["framing"]]  # fmt: skip
    unparsing = {name for name, r in index["run"]["clients"].items() if r["kind"] != "event"}
    assert not [
        (variant, clients) for (variant, _), clients in found.items()
        if variant in sse and clients & unparsing
    ]  # fmt: skip
    assert len(findings_text(index).splitlines()) <= 40
