"""The front ends' core (``harness.front``), its rules as tables: what a run's flags (or
its config file) select, which runs are partial, which windows are usage errors, what
``--strict`` fails, and what an update keeps. The same rules serve the pytest plugin."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from streamcompat.harness import cli
from streamcompat.harness.front import config
from streamcompat.harness.front import gate as rules
from streamcompat.harness.front.availability import Skipped
from streamcompat.harness.front.selection import Request, UsageError, names
from streamcompat.harness.front.settings import settings_of
from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from streamcompat.harness.outputs.baseline import Comparison

STREAM = {"sse × curl × direct": "PASS", "raw × httpx × direct": "BUFFERED"}
ABORT = {"sse × curl × direct × abort": "STOPPED"}


def result(key: str, verdict: str = "PASS") -> Result:
    return Result(Cell.from_key(key), Verdict(verdict), "why", None, None, None, 1.0, Facts([]))


def parse(directory: Path, *argv: str) -> argparse.Namespace:
    """``streamcompat run ARGV`` as the command parses it, the config file's options
    (``directory``'s pyproject.toml) as the defaults."""
    top = cli.parser()
    config.apply(cli._subcommand(top, "run"), list(argv), directory)
    return top.parse_args(["run", *argv])


@pytest.mark.parametrize(
    ("argv", "table", "held", "partial"),
    [
        ((), "", STREAM, False),
        (("--variant", "sse"), "", STREAM, True),
        (("--variant=sse",), "", STREAM, True),
        (("--clients", "python"), "", STREAM, True),
        (("--clients=curl,httpx",), "", STREAM, True),
        (("--network", "direct"), "", STREAM, True),
        (("--network=direct",), "", STREAM, True),
        # A scenario is partial against a file that holds others' cells too...
        (("--scenario", "abort"), "", {**STREAM, **ABORT}, True),
        (("--scenario=abort",), "", {**STREAM, **ABORT}, True),
        # ... not against its own baseline, which all its cells are.
        (("--scenario", "abort"), "", ABORT, False),
        (("--scenario", "all"), "", {**STREAM, **ABORT}, False),
        ((), 'clients = "python"', STREAM, True),
        ((), 'network = ["direct"]', STREAM, True),
        ((), 'variant = "sse"', STREAM, True),
        ((), 'jobs = 2', STREAM, False),
    ],
)  # fmt: skip
def test_each_way_a_run_is_restricted_marks_the_gate_partial(
    tmp_path: Path, argv: tuple[str, ...], table: str, held: dict[str, str], partial: bool
) -> None:
    if table:
        (tmp_path / "pyproject.toml").write_text(f"[tool.streamcompat]\n{table}\n")
    args = parse(tmp_path, *argv)
    request = cli.request_of(args)
    scenarios = request.select_scenarios()
    assert rules.partial(request, scenarios, held) is partial


@pytest.mark.parametrize(
    ("argv", "clients", "networks"),
    [
        (("--clients", "curl,httpx"), ["curl", "httpx"], []),
        (("--clients=curl,httpx",), ["curl", "httpx"], []),
        (("--clients=curl", "--clients", "httpx"), ["curl", "httpx"], []),
        (("--clients", "curl, httpx,"), ["curl", "httpx"], []),
        (("--network", "direct,split", "--network=coalesce"), [], ["direct", "split", "coalesce"]),
    ],
)  # fmt: skip
def test_both_flag_forms_give_the_same_lists(
    tmp_path: Path, argv: tuple[str, ...], clients: list[str], networks: list[str]
) -> None:
    request = cli.request_of(parse(tmp_path, *argv))
    assert (list(request.clients), list(request.networks)) == (clients, networks)


@pytest.mark.parametrize(
    ("given", "listed"),
    [("a,b", ["a", "b"]), (["a", "b,c"], ["a", "b", "c"]), (" a , ,b ", ["a", "b"]), ((), [])],
)
def test_the_fixtures_names_split_as_the_flags_do(
    given: str | list[str], listed: list[str]
) -> None:
    assert names(given) == listed


@pytest.mark.parametrize(
    ("request_", "select"),
    [
        (Request.of(clients="netscape"), Request.select_clients),
        (Request.of(networks="carrier-pigeon"), Request.select_networks),
        (Request.of(scenarios="explode"), Request.select_scenarios),
        (Request.of(variants="no-such-variant"), Request.select_variants),
    ],
)
def test_an_unknown_name_is_a_usage_error_in_every_dimension(
    request_: Request, select: Callable[[Request], object]
) -> None:
    with pytest.raises(UsageError, match="unknown"):
        select(request_)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"hold_window": 0.0}, "--hold-window must be a positive number of seconds, not 0"),
        ({"head_window": -1.0}, "--head-window must be a positive number of seconds, not -1"),
        ({"deadline": 0.0}, "--deadline must be a positive number of seconds, not 0"),
    ],
)
def test_a_window_that_is_not_positive_is_a_usage_error(given: dict[str, float], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        settings_of(spelled=lambda n: "--" + n.replace("_", "-"), **given)  # type: ignore[arg-type]


def test_the_scripts_hold_window_is_the_default_and_a_flag_wins() -> None:
    assert settings_of(script="limits").hold_window == 10.0
    assert settings_of(script="limits", hold_window=2.0).hold_window == 2.0
    assert settings_of().hold_window == 1.0


@pytest.mark.parametrize(
    ("found", "strict", "failed"),
    [
        (Comparison(), True, False),
        (Comparison(new=["x"]), False, False),
        (Comparison(new=["x"]), True, True),
        (Comparison(improvements=["x"]), False, False),
        (Comparison(improvements=["x"]), True, True),
        (Comparison(regressions=["x"]), False, True),
        (Comparison(missing=["x"]), False, True),
    ],
)
def test_strict_fails_new_cells_and_improvements_too(
    found: Comparison, strict: bool, failed: bool
) -> None:
    assert rules.Gate(strict=strict).failed(found) is failed


NODE = "sse × node-fetch × direct"
EXTRA = "sse-starlette × curl × direct"
GONE = "raw × curl × direct"
RAN = "sse × curl × direct"
OLD = {NODE: "PASS", EXTRA: "PASS", GONE: "CORRUPT", RAN: "PASS"}
NO_NODE = Skipped(clients={"node-fetch": "node not installed"})
NO_EXTRA = Skipped(variants={"sse-starlette": "sse_starlette not installed"})


@pytest.mark.parametrize(
    ("gate", "kept"),
    [
        # A whole run writes what it ran; of the rest only what it could not run here.
        (rules.Gate(), {}),
        (rules.Gate(skipped=NO_NODE), {NODE: "PASS"}),
        (rules.Gate(skipped=NO_EXTRA), {EXTRA: "PASS"}),
        (rules.Gate(skipped_keys=frozenset({NODE})), {NODE: "PASS"}),
        # A partial run leaves every other cell as it was.
        (rules.Gate(partial=True), {NODE: "PASS", EXTRA: "PASS", GONE: "CORRUPT"}),
    ],
)
def test_an_update_keeps_the_cells_it_is_not_the_run_to_drop(
    gate: rules.Gate, kept: dict[str, str]
) -> None:
    assert gate.updated(OLD, [result(RAN, "BUFFERED")]) == {**kept, RAN: "BUFFERED"}


def test_a_skipped_clients_and_variants_cells_are_not_compared() -> None:
    run = [result(RAN), result(GONE, "CORRUPT")]
    assert rules.Gate().compare(OLD, run).missing == [
        f"{NODE}: PASS → (cell not run)",
        f"{EXTRA}: PASS → (cell not run)",
    ]
    both = Skipped(NO_NODE.clients, NO_EXTRA.variants)
    assert rules.Gate(skipped=both).compare(OLD, run) == Comparison()
