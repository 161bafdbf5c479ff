"""index.json and the console: ``cell_record``, ``index``, ``progress_line``, ``summary``
and ``matrix_table``, as pure functions of results."""

from __future__ import annotations

import json
from pathlib import Path

from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict, Wire, Write
from streamcompat.harness.outputs.results import (
    SCHEMA_VERSION,
    cell_record,
    index,
    matrix_table,
    progress_line,
    summary,
    write_index,
)


def result(
    variant: str = "sse",
    client: str = "httpx-sse",
    verdict: Verdict = Verdict.PASS,
    network: str = "direct",
    duration_ms: float = 1234.5678,
    facts: Facts | None = None,
) -> Result:
    return Result(
        Cell(variant, client, network), verdict, "the detail", 1.23456, 0.5, None,
        duration_ms, facts or Facts(tokens=["a", "b", "c"]),
    )  # fmt: skip


def recorded() -> Facts:
    """A cell that started at 10 s (monotonic), stalled at token 2 and surfaced two."""
    facts = Facts(tokens=["a", "b", "c"])
    facts.started_at = 10.0
    facts.emitted_at = [10.001, 10.0025, 11.5]
    facts.surfaced_at = [10.00125, 11.50075]
    facts.stalled_at = 2
    facts.clock_lead = -0.0025  # its barriers found its clock may read 2.5 ms behind
    return facts


def test_cell_record_holds_the_cell_its_verdict_and_its_figures() -> None:
    record = cell_record(result(verdict=Verdict.BUFFERED, facts=recorded()), run_began=9.5)
    assert record == {
        "variant": "sse",
        "server": "uvicorn",  # the default: the variant server itself
        "client": "httpx-sse",
        "network": "direct",
        "scenario": "stream",
        "verdict": "BUFFERED",
        "detail": "the detail",
        "first_token_ms": 1.23,  # milliseconds, to two decimals
        "lag_ms_p50": 0.5,
        "lag_ms_p99": None,  # nothing measured stays None, not 0
        "duration_ms": 1234.57,
        "started_ms": 500.0,  # on the run's timeline
        "tokens": 3,
        "tokens_surfaced": 2,
        "stalled_at": 2,
        "clock_slack_ms": 3.5,  # 2.5 ms behind at most, and the clock's 1 ms resolution
        "protocol": None,  # the client did not say which HTTP version it used
        "content_type": None,  # no response head
        # on the cell's own timeline: milliseconds since it started
        "emitted_ms": [1.0, 2.5, 1500.0],
        "surfaced_ms": [1.25, 1500.75],
        "wire": None,  # no response: nothing sent
    }
    json.dumps(record)  # plain JSON values only


def test_cell_record_says_the_protocol_the_client_said() -> None:
    facts = recorded()
    facts.protocol = "h2"
    assert cell_record(result(facts=facts))["protocol"] == "h2"


def test_cell_record_says_the_content_type_the_client_was_told() -> None:
    facts = recorded()
    facts.content_type = "text/event-stream; charset=utf-8"
    assert cell_record(result(facts=facts))["content_type"] == "text/event-stream; charset=utf-8"


def test_cell_record_keeps_what_the_server_sent_on_the_cells_timeline(tmp_path: Path) -> None:
    facts = recorded()
    facts.wire = Wire(
        status=200,
        headers=(("content-type", "text/event-stream"),),
        writes=(
            Write(10.001, b"data: caf\xc3\xa9\r\n\r\n"),
            Write(10.5, b"data: ", 70_000, b"\n\n"),
        ),
        sent_bytes=70_023,
        sent_writes=2,
        ended_at=10.75,
    )
    record = cell_record(result(facts=facts))
    assert record["wire"] == {
        "status": 200,
        "headers": [["content-type", "text/event-stream"]],
        # latin-1 text: one character per byte; a long write as [ms, first, left out, last]
        "server_sent": [[1.0, "data: caf\xc3\xa9\r\n\r\n"], [500.0, "data: ", 70_000, "\n\n"]],
        "sent_bytes": 70_023,
        "sent_writes": 2,
        "truncated": True,
        "ended_ms": 750.0,
    }
    path = tmp_path / "index.json"
    write_index(path, index([result(facts=facts)], {}))
    stored = json.loads(path.read_text(encoding="utf-8"))["cells"][0]["wire"]["server_sent"]
    assert stored[0][1].encode("latin-1") == "data: café\r\n\r\n".encode()  # the bytes, back


def test_cell_record_says_none_for_no_stall_and_no_run_start() -> None:
    record = cell_record(result())
    assert record["stalled_at"] is None and record["started_ms"] is None
    assert record["tokens_surfaced"] == 0 and record["surfaced_ms"] == []


def test_index_keeps_the_run_and_every_cell_in_order(tmp_path: Path) -> None:
    results = [
        result("raw", "curl", facts=recorded()),
        result("sse", "curl", Verdict.CORRUPT, facts=recorded()),
    ]
    run = {"variants": ["builtin"], "wall_s": 2.5}
    data = index(results, run, run_began=9.0)
    assert data["schema"] == SCHEMA_VERSION == 1
    assert data["run"] == run
    assert [(c["variant"], c["verdict"]) for c in data["cells"]] == [
        ("raw", "PASS"),
        ("sse", "CORRUPT"),
    ]
    assert [c["started_ms"] for c in data["cells"]] == [1000.0, 1000.0]
    assert index(results, run)["cells"][0]["started_ms"] is None
    path = tmp_path / "deep" / "index.json"
    write_index(path, data)
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_progress_line_marks_passes_and_says_how_long_in_seconds() -> None:
    assert progress_line(result(), 3, 120) == (
        "[  3/120] ok sse × httpx-sse × direct: PASS (1.23 s)"
    )
    assert progress_line(result(verdict=Verdict.SILENT, duration_ms=30000), 12, 12) == (
        "[ 12/12]    sse × httpx-sse × direct: SILENT (30.00 s)"
    )


def test_summary_counts_verdicts_in_their_order() -> None:
    results = [
        result(verdict=Verdict.CORRUPT),
        result(verdict=Verdict.PASS),
        result(verdict=Verdict.PASS),
        result(verdict=Verdict.BUFFERED),
    ]
    assert summary(results) == "4 cells: 2 PASS, 1 BUFFERED, 1 CORRUPT"


def test_matrix_table_has_a_table_per_network_and_a_dash_for_cells_not_run() -> None:
    results = [
        result("raw", "requests", Verdict.PASS),
        result("raw", "requests-lines", Verdict.BUFFERED),
        result("sse", "requests", Verdict.CORRUPT),
        result("raw", "requests", Verdict.PASS, network="split"),
    ]
    lines = matrix_table(results).splitlines()
    assert lines[0] == "network: direct"
    assert lines[1].split() == ["variant", "requests", "requests-lines"]
    assert lines[3].split() == ["raw", "PASS", "BUFFERED"]
    assert lines[4].split() == ["sse", "CORRUPT", "-"]
    assert lines[6] == "network: split"
    assert lines[9].split() == ["raw", "PASS"]
