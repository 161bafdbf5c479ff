"""Results: ``index.json`` (read by every other report), and what the console shows of
them (``reports.terminal``)."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from streamcompat.harness.kernel.model import Client, Result, Variant, Verdict, Wire
from streamcompat.harness.kernel.verdicts import clock_slack
from streamcompat.harness.outputs.reports.terminal import plain, terminal_text

SCHEMA_VERSION = 1
LIBRARIES = (
    "requests",
    "aiohttp",
    "playwright",
    "fastapi",
    "starlette",
    "uvicorn",
    "langchain-core",
)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def readers(clients: Sequence[Client], variants: Sequence[Variant]) -> dict[str, Any]:
    """What the reports need of the run's clients and variants (or app), in ``run``: what
    each client reads (its kind; the codecs it is restricted to, if any) and what each
    stream is (codec, content type, a framing its content type does not say)."""
    return {
        "clients": {
            c.name: {"kind": c.kind, "codecs": None if c.codecs is None else sorted(c.codecs)}
            for c in clients
        },
        "streams": {
            v.name: {"codec": v.codec, "content_type": v.content_type, "framing": v.framing}
            for v in variants
        },
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def wire_record(wire: Wire | None, cell_began: float) -> dict[str, Any] | None:
    """A cell's ``wire`` in ``index.json``: bytes as latin-1 text (one character per byte,
    so ``text.encode("latin-1")`` gives them back), times in ms from the cell's start.
    A write is ``[ms, bytes]``, or ``[ms, first bytes, bytes left out, last bytes]``;
    ``ended_ms`` is when the body ended (None: not before the cell did)."""
    if wire is None:
        return None
    sent: list[list[Any]] = []
    for w in wire.writes:
        at = _ms((w.at - cell_began) * 1000)
        data = w.data.decode("latin-1")
        sent.append([at, data, w.left_out, w.tail.decode("latin-1")] if w.left_out else [at, data])
    return {
        "status": wire.status,
        "headers": [list(pair) for pair in wire.headers],
        "server_sent": sent,
        "sent_bytes": wire.sent_bytes,
        "sent_writes": wire.sent_writes,
        "truncated": wire.truncated,
        "ended_ms": _ms((wire.ended_at - cell_began) * 1000) if wire.ended_at else None,
    }


def cell_record(result: Result, run_began: float | None = None) -> dict[str, Any]:
    """One cell of ``index.json``; ``run_began`` (monotonic) places the cell on the run's
    timeline (``started_ms``)."""
    facts = result.facts
    started = None if run_began is None else (facts.started_at - run_began) * 1000
    return {
        "variant": result.cell.variant,
        "server": result.cell.server,  # what the variant ran under (``kernel.servers``)
        "client": result.cell.client,
        "network": result.cell.network,
        "scenario": result.cell.scenario,
        "verdict": result.verdict.value,
        "detail": result.detail,
        "first_token_ms": _ms(result.first_token_ms),
        "lag_ms_p50": _ms(result.lag_ms_p50),
        "lag_ms_p99": _ms(result.lag_ms_p99),
        "duration_ms": _ms(result.duration_ms),
        "started_ms": _ms(started),
        "tokens": len(facts.tokens),
        "tokens_surfaced": len(facts.surfaced_at),
        "stalled_at": facts.stalled_at or None,
        # How much later than its stamps the client may truly have surfaced a token, as its
        # report barriers bound its clock (None: no barrier said, or its clock is ours).
        "clock_slack_ms": _ms(clock_slack(facts) * 1000) if facts.clock_lead is not None else None,
        # The HTTP version the client said it used (ALPN's words); None: it did not say.
        "protocol": facts.protocol or None,
        # What the client was told the body is (the app's own, in app mode).
        "content_type": facts.content_type or None,
        # Relative to the cell's start, for timeline pictures.
        "emitted_ms": [_ms((t - facts.started_at) * 1000) for t in facts.emitted_at],
        "surfaced_ms": [_ms((t - facts.started_at) * 1000) for t in facts.surfaced_at],
        "wire": wire_record(facts.wire, facts.started_at),
        # App mode: the wire is what the fake upstream sent the app, not what the app sent.
        **({"app": facts.app} if facts.app else {}),
        # The keep-alive scenario: the connections the server saw the requests come on.
        **({"connections": [asdict(c) for c in facts.connections]} if facts.keep_alive else {}),
    }


def index(
    results: Sequence[Result], run: dict[str, Any], run_began: float | None = None
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "run": run,
        "cells": [cell_record(r, run_began) for r in results],
    }


def write_index(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def matrix_table(results: Sequence[Result], run: dict[str, Any] | None = None) -> str:
    """Variants as rows, clients as columns grouped by what they read (with ``run``, the
    run record, that says it), one table per network (and scenario); then the findings."""
    return terminal_text(index(results, run or {}))


def progress_line(result: Result, done: int, total: int) -> str:
    mark = "ok" if result.verdict.passed else "  "
    return (
        f"[{done:>3}/{total}] {mark} {plain(result.cell.key)}: {result.verdict.value} "
        f"({result.duration_ms / 1000:.2f} s)"
    )


def summary(results: Sequence[Result]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
    parts = [f"{counts[v.value]} {v.value}" for v in Verdict if v.value in counts]
    return f"{len(results)} cells: " + ", ".join(parts)
