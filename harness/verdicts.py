"""Verdicts and measurements: pure functions of a cell's recorded facts."""

from __future__ import annotations

import math

from harness.model import Facts, Verdict


def judge(facts: Facts) -> tuple[Verdict, str]:
    """The cell's verdict and one human sentence saying why."""
    verdict, detail = _judge(facts)
    if facts.server_note and verdict is not Verdict.PASS:
        detail = f"{detail} — server: {facts.server_note}"
    return verdict, detail


def _judge(facts: Facts) -> tuple[Verdict, str]:
    n = len(facts.tokens)
    seen = len(facts.surfaced_at)
    if facts.unsupported:
        return Verdict.UNSUPPORTED, facts.unsupported
    if facts.failure:
        return Verdict.ERROR, f"client failed after {seen} of {n} tokens: {facts.failure}"
    if facts.timed_out:
        return Verdict.TIMEOUT, (
            f"the client had not finished at the deadline; {seen} of {n} tokens surfaced"
        )
    if not facts.shown and not facts.diverged:
        how = f"HTTP {facts.status} {facts.content_type}".strip() if facts.opened else "no response"
        units = f"{facts.units} empty units" if facts.units else "no unit"
        note = f" ({facts.end_note})" if facts.end_note else ""
        return Verdict.SILENT, f"connected ({how}) but {units} surfaced before the end{note}"
    if facts.diverged:
        return Verdict.CORRUPT, f"after {seen} of {n} tokens: {facts.diverged}"
    if seen < n:
        return (
            Verdict.CORRUPT,
            f"the stream ended after {seen} of {n} tokens; the rest never surfaced",
        )
    if facts.replays:
        return Verdict.CORRUPT, (
            "every token surfaced, but the stream ended without an end event: "
            "EventSource reconnects and shows the tokens again"
        )
    if facts.stalled_at:
        return Verdict.BUFFERED, (
            f"content exact, but token {facts.stalled_at} of {n} had not surfaced "
            "within the hold window; it came later, held back with the rest"
        )
    return Verdict.PASS, f"all {n} tokens surfaced, exact, each before the next was produced"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def measure(facts: Facts) -> tuple[float | None, float | None, float | None, float]:
    """Time to first token, per-token lag p50/p99 and cell duration, in milliseconds."""
    origin = facts.requested_at or facts.started_at
    first = (facts.surfaced_at[0] - origin) * 1000 if facts.surfaced_at else None
    lags = [
        (shown - emitted) * 1000
        for shown, emitted in zip(facts.surfaced_at, facts.emitted_at, strict=False)
    ]
    duration = max(0.0, facts.finished_at - facts.started_at) * 1000
    return first, percentile(lags, 50), percentile(lags, 99), duration
