"""When a cell is played again (``runner.run_cell``), and how often at most.

Each attempt's facts are scripted (``_attempt`` replaced): the rules are the runner's,
judged on what the attempts recorded. A real proxy that ends a stream on its own gets
more replays than a late report does, since Caddy does it in bursts; the hold window a
network adds (``Network.hold_extra_s``) is the one the attempts are paced with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from streamcompat.harness.engine import runner
from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.kernel.model import Cell, Facts, Verdict, Wire
from streamcompat.harness.kernel.networks import NETWORKS

TOKENS = ["Hello", " world", "!"]


def complete() -> Facts:
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain", ended=True)
    f.started_at, f.finished_at, f.ended_at = 10.0, 10.5, 10.4
    f.shown, f.units, f.surfaced_at = "Hello world!", 3, [10.1, 10.2, 10.3]
    f.emitted_at = [10.05, 10.15, 10.25]
    return f


def dropped() -> Facts:
    """A clean end the server never wrote, after none of its bytes: the hop wrote it."""
    f = Facts(tokens=list(TOKENS), opened=True, status=200, content_type="text/plain", ended=True)
    f.started_at, f.finished_at, f.wire = 10.0, 10.1, Wire(sent_bytes=0)
    return f


def late_report() -> Facts:
    """The harness gave up on token 1, yet the client had surfaced it before token 2."""
    f = complete()
    f.stalled_at, f.surfaced_at, f.emitted_at = 1, [10.1, 11.2, 11.3], [10.0, 11.15, 11.2]
    return f


class Attempts:
    """Scripted attempts: each call of ``_attempt`` takes the next facts, and records the
    hold window it was paced with."""

    def __init__(self, script: list[Facts]) -> None:
        self.script: Iterator[Facts] = iter(script)
        self.windows: list[float] = []

    async def __call__(self, *args: Any) -> Facts:
        stage = args[3]
        self.windows.append(stage.settings.hold_window)
        return next(self.script)


def play(
    network: str, script: list[Facts], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Attempts]:
    attempts = Attempts(script)
    monkeypatch.setattr(runner, "_attempt", attempts)

    async def running() -> None:
        return None

    server = SimpleNamespace(running=running)
    stage = runner.Stage(server, None, Settings(jobs=1))  # type: ignore[arg-type]
    cell = Cell("raw", "requests", network)
    result = asyncio.run(runner.run_cell(cell, None, None, "", stage))  # type: ignore[arg-type]
    return result, attempts


@pytest.mark.parametrize(
    ("network", "drops", "attempts", "verdict"),
    [
        ("caddy", 0, 1, Verdict.PASS),
        ("caddy", 1, 2, Verdict.PASS),
        ("caddy", runner.MAX_DROP_REPLAYS, runner.MAX_DROP_REPLAYS + 1, Verdict.PASS),
        # Never more than that: the last drop is judged as it is.
        ("caddy", runner.MAX_DROP_REPLAYS + 1, runner.MAX_DROP_REPLAYS + 1, Verdict.SILENT),
        # On a network where only the server writes, an end is the server's: not replayed.
        ("direct", 1, 1, Verdict.SILENT),
        ("split", 1, 1, Verdict.SILENT),  # nor a shaper's, which ends only when it does
    ],
)
def test_a_stream_a_real_proxy_ended_is_played_again_a_bounded_number_of_times(
    network: str, drops: int, attempts: int, verdict: Verdict, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [dropped() for _ in range(drops)] + [complete()]
    result, played = play(network, script, monkeypatch)
    assert len(played.windows) == attempts
    assert result.verdict == verdict
    assert result.facts.replayed == [
        "the path ended the stream after 0 bytes of the server's; the server's did not end"
    ] * (attempts - 1)


def test_a_late_report_is_played_again_fewer_times_than_a_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = [late_report() for _ in range(runner.MAX_DROP_REPLAYS + 1)]
    result, played = play("caddy", script, monkeypatch)
    assert runner.MAX_REPLAYS < runner.MAX_DROP_REPLAYS
    assert len(played.windows) == runner.MAX_REPLAYS + 1
    assert result.verdict == Verdict.PASS  # the evidence of the last attempt: surfaced first
    assert all("only after its hold window" in why for why in result.facts.replayed)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_each_attempt_is_paced_with_the_networks_own_hold_window(
    network: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, played = play(network, [complete()], monkeypatch)
    assert played.windows == [Settings.hold_window + NETWORKS[network].hold_extra_s]


def test_haproxys_window_outlasts_the_first_rto_its_corked_writes_wait_for() -> None:
    # docs/findings.md: a connection's first RTO reached 7.9 s (3x a cached RTT of 2.6 s).
    assert Settings.hold_window + NETWORKS["haproxy"].hold_extra_s >= 2 * 7.9
