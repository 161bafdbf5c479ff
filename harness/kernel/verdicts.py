"""Verdicts and measurements: pure functions of a cell's recorded facts."""

from __future__ import annotations

import math
from dataclasses import replace

from streamcompat.harness.kernel.model import Cell, Facts, Verdict
from streamcompat.harness.kernel.servers import SERVERS


def judge(facts: Facts) -> tuple[Verdict, str]:
    """The cell's verdict and one human sentence saying why."""
    verdict, detail = _judge(facts)
    if facts.server_note and verdict is not Verdict.PASS:
        detail = f"{detail} — {'app' if facts.app else 'server'}: {facts.server_note}"
    if facts.think and verdict is not Verdict.PASS:
        detail = (
            f"{detail} (the model thought {facts.think:g} s before its first token; the "
            "client kept its library's default timeouts)"
        )
    if facts.requests > 1:  # a retry or reconnect: every request is a generation paid for
        who = "the app called the upstream" if facts.app else "the client requested the stream"
        detail = f"{detail} ({who} {facts.requests} times)"
    if facts.replayed:
        detail = f"{detail} (replayed: {'; '.join(facts.replayed)})"
    return verdict, detail


def with_pitfalls(cell: Cell, verdict: Verdict, detail: str) -> str:
    """``detail``, and the known pitfalls of the cell's server that its verdict may show
    (``Server.explaining``): said beside the verdict, which stays the facts' own."""
    record = SERVERS.get(cell.server)
    said = record.explaining(verdict, cell.scenario) if record else []
    if not said:
        return detail
    return f"{detail} — known of {cell.server}: {'; '.join(said)}"


def later_bytes_at(facts: Facts, k: int) -> float:
    """When the bytes after token k (1-based) were produced: token k+1, or the end after n.

    The server's emission time where it reported one; else the harness's release of
    them, which they cannot precede.
    """
    n = len(facts.tokens)
    if k < n and len(facts.emitted_at) > k:
        return facts.emitted_at[k]
    if k == n and facts.ended_at:
        return facts.ended_at
    return facts.released_at[k] if len(facts.released_at) > k else math.inf


#: How coarse a script's clock may read (``performance.now()``: Firefox rounds to 1 ms,
#: WebKit floors to 1 ms; WebKit's ``timeOrigin`` is floored too, a part of every stamp of
#: a page alike, which the barriers' bound takes in).
STAMP_RESOLUTION_S = 0.001


def clock_slack(facts: Facts) -> float:
    """How much later than its stamps say the client may truly have surfaced a token: the
    most its clock, mapped onto the harness's, may read behind it (as the cell's report
    barriers bound it: each round trip held the script's own stamp), and the clock's
    resolution. 0 where the client's stamps are the harness's own.
    """
    if facts.clock_lead is None:
        return 0.0
    return max(0.0, -facts.clock_lead) + STAMP_RESOLUTION_S


def held_back(facts: Facts) -> bool:
    """True if the stalled token was surfaced, by the client's own clock, only at or
    after the moment the bytes after it were produced — or so near before it that the
    client's clock cannot tell (``clock_slack``): the barrier proved the stall, and only
    a contradiction beyond the clock's error overturns it.

    Only the token the harness stalled on was tested: it surfaced no earlier tokens late
    (it heard of each before it released the next), and released everything after the
    stall at once.
    """
    k = facts.stalled_at
    if not k or len(facts.surfaced_at) < k:
        return False
    return facts.surfaced_at[k - 1] + clock_slack(facts) >= later_bytes_at(facts, k)


def unpaced(facts: Facts) -> str:
    """Why the evidence contradicts the stall, if it does: the harness gave up on token k,
    yet the client surfaced it before the bytes after it were produced (its report came
    late). Tokens after k were then released at once, so their delivery was not tested.
    """
    k = facts.stalled_at
    if not k or len(facts.surfaced_at) < k or held_back(facts):
        return ""
    early = (later_bytes_at(facts, k) - facts.surfaced_at[k - 1]) * 1000
    return (
        f"the harness heard of token {k} only after its hold window, but the client "
        f"surfaced it {early:.0f} ms before the next bytes were produced"
    )


def dropped_on_the_way(facts: Facts) -> str:
    """Why the evidence says a hop between ended the stream on its own, if it does: the
    client read to a clean end of the body while the server's response had not ended
    (so something between wrote that end), was never asked to leave and did not run out
    of time. A real proxy does that now and
    then (Caddy 2.6 closing its upstream connection as it reads); the cell says nothing of
    framing then, so it is played again.
    """
    if facts.stop_requested_at or facts.ended_at or facts.timed_out:
        return ""
    if facts.failure or not facts.ended:
        return ""
    sent = facts.wire.sent_bytes if facts.wire else 0
    return f"the path ended the stream after {sent} bytes of the server's; the server's did not end"


def _judge(facts: Facts) -> tuple[Verdict, str]:
    if facts.unsupported or facts.server_died:
        return _stream(facts)
    if facts.keep_alive:
        return kept_alive(facts)
    if facts.abort_after:
        return abort(facts) or _noting(_stream(facts), _not_asked(facts))
    if facts.fail_after is not None:
        return failure(facts) or _noting(_before_failure(facts), _not_reached(facts))
    return _stream(facts)


def _noting(judged: tuple[Verdict, str], note: str) -> tuple[Verdict, str]:
    return judged[0], f"{judged[1]} ({note})"


def _not_asked(facts: Facts) -> str:
    return f"abort: it never surfaced token {facts.abort_after}, so it was not asked to leave"


def _fail_after(facts: Facts) -> int:
    """After which token the chain failed (0: before its first)."""
    return facts.fail_after or 0


def _chain_failed(k: int) -> str:
    return f"the chain failed after token {k}" if k else "the chain failed before its first token"


def _not_reached(facts: Facts) -> str:
    k = _fail_after(facts)
    if facts.timed_out and len(facts.surfaced_at) >= k:
        return f"error: {_chain_failed(k)}, and nothing ended the stream"
    if not k:
        return f"error: {_chain_failed(k)}, but the client had failed on the response first"
    return f"error: {_chain_failed(k)}; the client had not shown tokens 1..{k}"


def kept_alive(facts: Facts) -> tuple[Verdict, str]:
    """The keep-alive scenario: the stream's verdict, once the server saw the stream's
    request come from the port its first request came from (the same connection). One
    sent on another connection did not test a reused one: UNSUPPORTED, with the ports."""
    verdict, detail = _stream(facts)
    if why := new_connection(facts):
        return Verdict.UNSUPPORTED, (
            f"keep-alive: {why}, so a reused connection was not tested (the stream itself: "
            f"{verdict.value})"
        )
    stream = [c for c in facts.connections if c.request == "stream"]
    if not stream:  # no record of it: its verdict says why (a relay records it only once
        # its response asks the upstream for tokens; a client that refused the head first
        # may have left before)
        return verdict, f"{detail} (keep-alive: no record of the stream request's connection)"
    nodelay = {True: "on", False: "off", None: "not known"}[stream[0].nodelay]
    lags = lags_ms(facts)
    most = ""
    if stream[0].nodelay is False and lags:  # what Nagle's algorithm cost, if anything
        k = max(range(len(lags)), key=lags.__getitem__)
        most = f"; the most lag: token {k + 1}, {lags[k]:.0f} ms after it was produced"
    return verdict, (
        f"{detail} (keep-alive: on the connection of its first request, port "
        f"{stream[0].port}; the server's socket: TCP_NODELAY {nodelay}{most})"
    )


def new_connection(facts: Facts) -> str:
    """Why a keep-alive cell's stream did not go on its first request's connection, if
    it did not (a stream's request that never reached the server: "", its verdict says)."""
    first = [c for c in facts.connections if c.request == "first"]
    stream = [c for c in facts.connections if c.request == "stream"]
    if not facts.keep_alive or not stream:
        return ""
    if not first:
        return "the server saw no first request for the stream"
    if stream[0].port != first[0].port:
        return (
            f"the client sent the stream's request on a new connection (port "
            f"{stream[0].port}; its first request came from port {first[0].port})"
        )
    return ""


def abort(facts: Facts) -> tuple[Verdict, str] | None:
    """The abort scenario's verdict: did generation stop once the client had left? None
    if the client never got as far as token k (the stream's verdict then applies)."""
    k = facts.abort_after
    if not facts.stop_requested_at:
        return None
    said = f"; it said: {facts.failure}" if facts.failure else ""
    if not facts.aborted_at:
        if facts.timed_out:
            return Verdict.TIMEOUT, (
                f"asked to leave after token {k}, the client had not left "
                f"by the {facts.deadline:g} s deadline{said}"
            )
        return Verdict.ERROR, (
            f"asked to leave after token {k}, the client did not say it had left{said}"
        )
    left = f"the client left after token {k}"
    n = len(facts.tokens)
    if facts.cancelled_at and not facts.ended_at and not facts.let_run:
        ms = max(0.0, facts.cancelled_at - facts.aborted_at) * 1000
        return Verdict.STOPPED, (
            f"{left}; the server cancelled generation {ms:.0f} ms later, while its "
            "response waited for the next token"
        )
    idle = f"{left}; the server did not notice while its response waited for the next token"
    if facts.cancelled_at and not facts.ended_at:
        more = max(0, facts.generated - (k + 1))  # token k+1 was out when it was asked
        return Verdict.STOPPED, (
            f"{idle}; let run, generation was cancelled after {more} more "
            f"token{'s' * (more != 1)} (when the response next wrote)"
        )
    if facts.ended_at:
        return Verdict.LEAK, f"{idle}; let run, generation went on to token {n} of {n}"
    if facts.running_after:
        return Verdict.LEAK, (
            f"{left}; {facts.running_after:g} s later generation was neither cancelled nor "
            f"ended (at token {facts.generated} of {n}): nothing cancelled it"
        )
    return Verdict.ERROR, f"{left}, but the server kept no record of the stream's run"


def failure(facts: Facts) -> tuple[Verdict, str] | None:
    """The error scenario's verdict: was the user told that the chain failed after token
    k? A client that raised once the failure was out was told, even if it was still
    holding some of the k tokens back. None if it got the content wrong, failed first,
    or ended quietly without tokens 1..k (the stream's verdict then applies)."""
    k = _fail_after(facts)
    seen = len(facts.surfaced_at)
    if facts.timed_out or facts.no_head_within or seen > k:
        return None  # (more than k: the variant did not fail where the chain did)
    failed = _chain_failed(k)
    if facts.diverged:  # what came after token k was not a token
        if seen < k:
            return None
        return Verdict.TOLD, f"{failed}; the failure reached the user as data: {facts.diverged}"
    if facts.failure and _after_the_failure(facts):
        held = "" if seen == k else f" (it had shown {seen} of them: it was holding text back)"
        return Verdict.TOLD, f"{failed}{held}; the client raised: {facts.failure}"
    if seen < k or facts.failure:
        return None
    if facts.replays:
        return Verdict.TRUNCATED, (
            f"{failed}; EventSource only fired error, as at any end of a body: it would "
            "reconnect and run the chain again, and said nothing of a failure"
        )
    how = f" ({facts.end_note})" if facts.end_note else ""
    if not k:  # FastAPI's EventSourceResponse: a 200 with an empty body that ends cleanly
        return Verdict.TRUNCATED, (
            f"{failed}; the client ended as if the stream were whole{how}: an empty "
            "answer, and nothing said of a failure"
        )
    return Verdict.TRUNCATED, (
        f"{failed}; the client ended as if the stream were whole{how}, showing "
        f"{k} of {len(facts.tokens)} tokens and nothing else"
    )


def _after_the_failure(facts: Facts) -> bool:
    """The client had taken the response and ended after the harness let the failure out:
    it did not fail on something else first (EventSource refusing a content type may
    say so only once the body is over)."""
    k = _fail_after(facts)
    out = len(facts.released_at) > k and facts.client_done_at >= facts.released_at[k]
    return facts.opened and out


def _before_failure(facts: Facts) -> tuple[Verdict, str]:
    """The stream's verdict of a client that never showed tokens 1..k exactly. Content
    it got wrong comes first: the cut that made it raise afterwards is the scenario's."""
    if facts.diverged and facts.failure:
        verdict, detail = _stream(replace(facts, failure=""))
        return verdict, f"{detail}; then it raised: {facts.failure}"
    return _stream(facts)


def _stream(facts: Facts) -> tuple[Verdict, str]:
    """The stream scenario's verdict: did every token surface, exact and as produced?"""
    n = len(facts.tokens)
    seen = len(facts.surfaced_at)
    if facts.unsupported:
        return Verdict.UNSUPPORTED, facts.unsupported
    if facts.server_died:
        said = f"; the client said: {facts.failure}" if facts.failure else ""
        return Verdict.ERROR, (
            f"the variant server died after {seen} of {n} tokens surfaced "
            f"({facts.server_died}); the harness restarted it{said}"
        )
    if facts.failure:
        return Verdict.ERROR, f"client failed after {seen} of {n} tokens: {facts.failure}"
    if facts.no_head_within:
        window = f"{facts.no_head_within:g} s"
        if not facts.arrived_at and facts.app:  # the upstream is the server; the note says
            return Verdict.TIMEOUT, f"no response head within {window}"
        if not facts.arrived_at:
            return Verdict.TIMEOUT, f"the request did not reach the server within {window}"
        if facts.app:
            return Verdict.TIMEOUT, (
                f"no response head within {window} of the app calling the fake upstream "
                "(the app sent none; the client was still waiting)"
            )
        return Verdict.TIMEOUT, (
            f"no response head within {window} of the request reaching the server "
            "(the server sent none; the client was still waiting)"
        )
    if facts.timed_out:
        at = f"the {facts.deadline:g} s deadline" if facts.deadline else "the deadline"
        if seen == n and not facts.diverged:
            what = f"all {n} tokens surfaced, but the end of the stream never came"
        else:
            what = f"{seen} of {n} tokens surfaced and the end never came"
        return Verdict.TIMEOUT, f"the client had not finished at {at}: {what}"
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
        return Verdict.REPLAYS, (
            "every token surfaced, but the stream ended without an end event: the client "
            "fired its error event while reconnecting, and EventSource shows the tokens again"
        )
    if held_back(facts):
        k = facts.stalled_at
        late = (facts.surfaced_at[k - 1] - later_bytes_at(facts, k)) * 1000
        after = f"token {k + 1}" if k < n else "the end of the stream"
        when = f"{late:.0f} ms after {after} was produced"
        if late < 0:
            when = (
                f"{-late:.1f} ms before {after} was produced by its clock, within that "
                f"clock's {clock_slack(facts) * 1000:.1f} ms margin on the harness's"
            )
        return Verdict.BUFFERED, (
            f"content exact, but token {k} of {n} was held back: the client surfaced it "
            f"{when} (it waited for later bytes)"
        )
    if why := unpaced(facts):
        return Verdict.PASS, (
            f"all {n} tokens surfaced, exact; {why}, so the tokens after it were not paced"
        )
    return Verdict.PASS, f"all {n} tokens surfaced, exact, each before the next was produced"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def lags_ms(facts: Facts) -> list[float]:
    """Each token's lag, in milliseconds: from the server producing it to the client
    surfacing it (by its own clock)."""
    return [
        (shown - emitted) * 1000
        for shown, emitted in zip(facts.surfaced_at, facts.emitted_at, strict=False)
    ]


def measure(facts: Facts) -> tuple[float | None, float | None, float | None, float]:
    """Time to first token, per-token lag p50/p99 and cell duration, in milliseconds."""
    origin = facts.requested_at or facts.started_at
    first = (facts.surfaced_at[0] - origin) * 1000 if facts.surfaced_at else None
    lags = lags_ms(facts)
    duration = max(0.0, facts.finished_at - facts.started_at) * 1000
    return first, percentile(lags, 50), percentile(lags, 99), duration


def judge_many(streams: list[Facts]) -> tuple[int, Verdict, str]:
    """The many-streams scenario: each stream judged as any (``judge``); one whose client
    put its request on a connection only after another stream of the cell had ended, by
    its own clock (``Facts.sent_at``), was held back by the client. The cell's verdict is
    its worst stream's: returned with that stream's index and a sentence for the cell."""
    judged = [_one_of_many(facts, streams) for facts in streams]
    worst = max(range(len(judged)), key=lambda i: (judged[i][0].facts.rank, -i))
    verdict, detail = judged[worst]
    counts: dict[str, int] = {}
    for v, _ in judged:
        counts[v.value] = counts.get(v.value, 0) + 1
    tally = ", ".join(f"{count} {name}" for name, count in counts.items())
    if len(counts) == 1:
        return worst, verdict, f"all {len(streams)} streams {verdict.value}: {detail}"
    return worst, verdict, f"stream {worst + 1} of {len(streams)}: {detail} (streams: {tally})"


def _one_of_many(facts: Facts, streams: list[Facts]) -> tuple[Verdict, str]:
    verdict, detail = judge(facts)
    waited = waited_for(facts, streams)
    if verdict is not Verdict.PASS or waited is None:
        return verdict, detail
    after = (facts.sent_at - streams[waited].ended_at) * 1000
    return Verdict.BUFFERED, (
        f"the client held its request back: it went on a connection {after:.0f} ms after "
        f"stream {waited + 1} had ended ({facts.protocol or 'protocol not said'}; over "
        "HTTP/1.1 a browser opens 6 connections per origin), then every token streamed"
    )


def waited_for(facts: Facts, streams: list[Facts]) -> int | None:
    """The stream (index) that had ended, by the server's clock, before this one's client
    sent its request, by its own (None: it sent it before any had ended, or did not say)."""
    if not facts.sent_at:
        return None
    ended = [
        (other.ended_at, i)
        for i, other in enumerate(streams)
        if other is not facts and other.ended_at and other.ended_at <= facts.sent_at
    ]
    return min(ended)[1] if ended else None
