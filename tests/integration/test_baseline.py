"""The gate's own rules: what a run is compared with, and which differences fail it.

``baseline.compare`` and ``Comparison.failed`` as pure functions of verdicts; then the
command's ``gate`` (exit 1 on a failure, ``--strict``, ``--update-baseline``, partial
runs, clients this machine lacks) and a malformed baseline as a usage error (exit 2),
all without running a matrix.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness import cli
from streamcompat.harness.kernel.model import Cell, Facts, Result, Verdict
from streamcompat.harness.outputs import baseline
from streamcompat.harness.outputs.baseline import RANK, Comparison, compare

KEY = "sse × httpx-sse × direct"


def result(key: str, verdict: Verdict, detail: str = "why") -> Result:
    return Result(Cell.from_key(key), verdict, detail, None, None, None, 1.0, Facts([]))


def test_an_unchanged_run_passes_even_strict() -> None:
    found = compare({KEY: "PASS"}, [result(KEY, Verdict.PASS)])
    assert found == Comparison()
    assert not found.failed() and not found.failed(strict=True)


def test_a_worse_verdict_is_a_regression_that_fails() -> None:
    found = compare({KEY: "PASS"}, [result(KEY, Verdict.BUFFERED, "token 1 held back")])
    assert found.regressions == [f"{KEY}: PASS → BUFFERED (token 1 held back)"]
    assert found.lines() == [f"regression: {KEY}: PASS → BUFFERED (token 1 held back)"]
    assert found.failed()


EQUAL_RANK = [v for v in Verdict if RANK[v] == RANK[Verdict.CORRUPT]]


@pytest.mark.parametrize(
    ("before", "now"),
    list(itertools.permutations(EQUAL_RANK, 2)),
    ids=lambda v: v.value,
)
def test_a_change_between_verdicts_of_equal_rank_is_a_regression(
    before: Verdict, now: Verdict
) -> None:
    # CORRUPT → ERROR is not better: a different failure is still a change to look at.
    found = compare({KEY: before.value}, [result(KEY, now)])
    assert found.regressions == [f"{KEY}: {before.value} → {now.value} (why)"]
    assert found.improvements == []
    assert found.failed()


def test_equal_rank_covers_every_kind_of_failure() -> None:
    assert set(EQUAL_RANK) == {Verdict.CORRUPT, Verdict.SILENT, Verdict.ERROR, Verdict.TIMEOUT}


def test_every_verdict_has_a_rank_and_a_colour() -> None:
    from streamcompat.harness.outputs.reports import VERDICT_COLOURS

    assert set(RANK) == set(Verdict)
    assert {v.value for v in Verdict} <= set(VERDICT_COLOURS)


@pytest.mark.parametrize(
    ("before", "now", "regressed"),
    [("PASS", Verdict.REPLAYS, True), ("CORRUPT", Verdict.REPLAYS, False),
     ("REPLAYS", Verdict.CORRUPT, True), ("BUFFERED", Verdict.REPLAYS, True)],
)  # fmt: skip
def test_a_stream_that_replays_ranks_between_held_back_and_broken(
    before: str, now: Verdict, regressed: bool
) -> None:
    found = compare({KEY: before}, [result(KEY, now)])
    assert bool(found.regressions) is regressed
    assert bool(found.improvements) is not regressed


def test_an_improvement_fails_only_a_strict_gate() -> None:
    found = compare({KEY: "CORRUPT"}, [result(KEY, Verdict.PASS, "all tokens")])
    assert found.improvements == [f"{KEY}: CORRUPT → PASS (all tokens)"]
    assert found.regressions == []
    assert not found.failed()
    assert found.failed(strict=True)


def test_a_new_cell_fails_only_a_strict_gate() -> None:
    found = compare({}, [result(KEY, Verdict.PASS, "all tokens")])
    assert found.new == [f"{KEY}: PASS (all tokens)"]
    assert found.lines() == [f"new: {KEY}: PASS (all tokens)"]
    assert not found.failed()
    assert found.failed(strict=True)


def test_a_missing_cell_fails_unless_the_run_was_partial() -> None:
    other = "raw × curl × split"
    expected = {KEY: "PASS", other: "BUFFERED"}
    found = compare(expected, [result(KEY, Verdict.PASS)])
    assert found.missing == [f"{other}: BUFFERED → (cell not run)"]
    assert found.lines() == [f"missing: {other}: BUFFERED → (cell not run)"]
    assert found.failed()
    partial = compare(expected, [result(KEY, Verdict.PASS)], partial=True)
    assert partial == Comparison() and not partial.failed(strict=True)


def test_a_verdict_the_harness_no_longer_knows_is_a_regression_not_an_improvement() -> None:
    found = compare({KEY: "SHINY"}, [result(KEY, Verdict.PASS)])
    assert found.regressions == [f"{KEY}: SHINY → PASS (why)"] and found.failed()


def test_lines_list_failures_first() -> None:
    found = Comparison(regressions=["r"], improvements=["i"], new=["n"], missing=["m"])
    assert found.lines() == ["regression: r", "missing: m", "improvement: i", "new: n"]


def test_save_then_load_gives_the_verdicts_sorted(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    baseline.save(path, [result(KEY, Verdict.PASS), result("raw × curl × direct", Verdict.ERROR)])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "schema": 1,
        "cells": {"raw × curl × direct": "ERROR", KEY: "PASS"},
    }
    assert list(data["cells"]) == sorted(data["cells"])  # diffs stay small
    assert baseline.load(path) == {KEY: "PASS", "raw × curl × direct": "ERROR"}


def test_save_writes_the_text_a_reviewer_diffs_and_keeps_what_it_is_given(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baseline.json"
    other = "raw × curl × split"
    baseline.save(path, [result(KEY, Verdict.PASS)], keep={other: "BUFFERED", KEY: "ERROR"})
    assert path.read_text(encoding="utf-8") == (  # 2-space indent, × as itself, one line end
        '{\n  "schema": 1,\n  "cells": {\n'
        f'    "{other}": "BUFFERED",\n    "{KEY}": "PASS"\n  }}\n}}\n'
    )


@pytest.mark.parametrize(
    "text", ["[]", '{"schema": 1}', '{"cells": ["PASS"]}', "{not json", ""]
)  # fmt: skip
def test_load_refuses_what_is_not_a_baseline(tmp_path: Path, text: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        baseline.load(path)


# The command's gate, fed results directly.


def args(**given: Any) -> argparse.Namespace:
    """``streamcompat run``'s options as the gate reads them; a whole run by default."""
    options: dict[str, Any] = {
        "update_baseline": False,
        "strict": False,
        "variant": [],
        "clients": [],
        "network": [],
    }
    return argparse.Namespace(**(options | given))


def gate(tmp_path: Path, expected: dict[str, str], results: list[Result], **given: Any) -> int:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"schema": 1, "cells": expected}), encoding="utf-8")
    read, unreadable = cli._read_baseline(path, bool(given.get("update_baseline")))
    return cli.gate(args(**given), path, read, unreadable, results, skipped={})


def test_gate_passes_an_unchanged_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gate(tmp_path, {KEY: "PASS"}, [result(KEY, Verdict.PASS)]) == 0
    assert "gate: ok against" in capsys.readouterr().out


def test_gate_exits_1_on_a_regression_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate(tmp_path, {KEY: "CORRUPT"}, [result(KEY, Verdict.ERROR, "it raised")]) == 1
    out = capsys.readouterr().out
    assert f"regression: {KEY}: CORRUPT → ERROR (it raised)" in out
    assert "gate: FAILED against" in out


def test_gate_exits_1_on_a_missing_cell_of_a_whole_run(tmp_path: Path) -> None:
    expected = {KEY: "PASS", "raw × curl × direct": "PASS"}
    assert gate(tmp_path, expected, [result(KEY, Verdict.PASS)]) == 1
    # The same run asked for one variant is partial: other cells are not missing.
    assert gate(tmp_path, expected, [result(KEY, Verdict.PASS)], variant=["sse"]) == 0


def test_gate_strict_fails_new_cells_and_improvements(tmp_path: Path) -> None:
    new = [result(KEY, Verdict.PASS), result("raw × curl × direct", Verdict.PASS)]
    assert gate(tmp_path, {KEY: "PASS"}, new) == 0
    assert gate(tmp_path, {KEY: "PASS"}, new, strict=True) == 1
    better = [result(KEY, Verdict.PASS)]
    assert gate(tmp_path, {KEY: "BUFFERED"}, better) == 0
    assert gate(tmp_path, {KEY: "BUFFERED"}, better, strict=True) == 1


def test_gate_does_not_miss_cells_of_clients_this_machine_lacks(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(
        json.dumps({"cells": {KEY: "PASS", "raw × curl × direct": "PASS"}}), encoding="utf-8"
    )
    expected = baseline.load(path)
    run = [result(KEY, Verdict.PASS)]
    assert cli.gate(args(), path, expected, "", run, {"curl": "curl not installed"}) == 0
    assert cli.gate(args(), path, expected, "", run, {}) == 1


def test_update_baseline_writes_this_runs_verdicts(tmp_path: Path) -> None:
    run = [result(KEY, Verdict.BUFFERED), result("raw × curl × direct", Verdict.PASS)]
    assert gate(tmp_path, {KEY: "PASS"}, run, update_baseline=True) == 0
    assert baseline.load(tmp_path / "baseline.json") == {
        KEY: "BUFFERED",
        "raw × curl × direct": "PASS",
    }


def test_a_restricted_update_keeps_the_cells_it_did_not_run(tmp_path: Path) -> None:
    old = {KEY: "PASS", "raw × curl × direct": "CORRUPT"}
    run = [result(KEY, Verdict.BUFFERED)]
    assert gate(tmp_path, old, run, update_baseline=True, clients=["httpx-sse"]) == 0
    assert baseline.load(tmp_path / "baseline.json") == {
        KEY: "BUFFERED",
        "raw × curl × direct": "CORRUPT",
    }
    # A whole run writes what it ran: cells it no longer has are gone.
    assert gate(tmp_path, old, run, update_baseline=True) == 0
    assert baseline.load(tmp_path / "baseline.json") == {KEY: "BUFFERED"}


def test_update_baseline_replaces_even_a_malformed_baseline(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("{broken", encoding="utf-8")
    assert cli._read_baseline(path, replacing=True) == (None, "")
    run = [result(KEY, Verdict.PASS)]
    assert cli.gate(args(update_baseline=True), path, None, "", run, {}) == 0
    assert baseline.load(path) == {KEY: "PASS"}


def test_a_malformed_baseline_is_read_as_unreadable_and_the_gate_refuses_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text('{"schema": 1}', encoding="utf-8")
    expected, unreadable = cli._read_baseline(path, replacing=False)
    assert expected is None and "not a streamcompat baseline" in unreadable
    with pytest.raises(cli.UsageError, match="not a streamcompat baseline"):
        cli.gate(args(), path, expected, unreadable, [result(KEY, Verdict.PASS)], {})


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe"], ids=["empty", "json", "utf8"])
def test_a_baseline_that_is_not_json_is_named_not_a_traceback(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(content)
    expected, unreadable = cli._read_baseline(path, replacing=False)
    assert expected is None
    assert unreadable.startswith(f"{path}: not a streamcompat baseline (not JSON: "), unreadable


def test_a_malformed_baseline_exits_2_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The whole command, with the matrix replaced by one recorded result.
    bad = tmp_path / "baseline.json"
    bad.write_text("[1, 2, 3]", encoding="utf-8")
    cell = "raw × requests × direct"

    async def run_matrix(*given: object, **options: object) -> tuple[list[Result], dict[str, str]]:
        assert options.get("expected") is None  # nothing to schedule by
        return [result(cell, Verdict.PASS)], {}

    monkeypatch.setattr(cli, "run_matrix", run_matrix)
    code = cli.main(
        ["run", "--quiet", "--variant", "raw", "--clients", "requests", "--network", "direct",
         "--baseline", str(bad), "--results", str(tmp_path / "results")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"streamcompat: {bad}: not a streamcompat baseline" in err
    assert (tmp_path / "results" / "index.json").exists()  # the run's results are kept
