"""tools/coverage.py and tools/mutation.py: the figures they read, and what fails them."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tools import coverage, mutants, mutation


def summary(branches: int, missing_branches: int, statements: int, missing: int) -> Any:
    return {
        "summary": {
            "num_branches": branches,
            "missing_branches": missing_branches,
            "num_statements": statements,
            "missing_lines": missing,
        }
    }


def test_figures_are_keyed_by_path_from_the_root_and_others_are_left_out(tmp_path: Path) -> None:
    report = {
        "files": {
            "harness/kernel/codecs.py": summary(10, 1, 100, 5),
            str(tmp_path / "harness/cli.py"): summary(0, 0, 0, 0),
            "/elsewhere/site-packages/x.py": summary(1, 1, 1, 1),
        }
    }
    found = coverage.figures(report, root=tmp_path)
    assert set(found) == {"harness/kernel/codecs.py", "harness/cli.py"}
    codecs = found["harness/kernel/codecs.py"]
    assert (codecs.branch_percent, codecs.line_percent) == (90.0, 95.0)
    assert found["harness/cli.py"].branch_percent == 100.0  # nothing to miss
    assert found["harness/cli.py"].line_percent == 100.0


@pytest.mark.parametrize(
    ("branches", "missing_branches", "statements", "missing", "below"),
    [
        (100, 10, 100, 10, False),  # 90.0 % each: the bar itself passes
        (10000, 1004, 100, 0, False),  # 89.96 %: printed as 90.0, passed as printed
        (100, 11, 100, 0, True),  # branches below
        (100, 0, 100, 11, True),  # lines below
    ],
)
def test_a_module_is_below_the_bar_by_either_figure_as_printed(
    branches: int, missing_branches: int, statements: int, missing: int, below: bool
) -> None:
    figure = coverage.Figure("m.py", branches, missing_branches, statements, missing)
    assert figure.below() is below


def test_failures_name_a_stale_pattern_an_unmeasured_module_and_one_below() -> None:
    measured = {
        "a.py": coverage.Figure("a.py", 10, 0, 10, 0),
        "b.py": coverage.Figure("b.py", 10, 5, 10, 0),
    }
    said = coverage.failures(["a.py", "b.py", "c.py"], measured, ["harness/gone/*.py"])
    assert said == [
        "harness/gone/*.py: names no file (CORE in tools/coverage.py is stale)",
        "b.py: 50.0 % of branches, 100.0 % of lines; the bar is 90 %",
        "c.py: not measured (no test imported it)",
    ]
    lines = coverage.table(["a.py", "b.py", "c.py"], measured)
    assert lines[2].endswith("below 90 %") and "not measured" in lines[3]
    assert not lines[1].endswith("%  below 90 %")


def test_the_core_list_names_files_that_exist() -> None:
    modules, stale = coverage.core_modules()
    assert not stale
    assert "harness/kernel/verdicts.py" in modules and "harness/cli.py" in modules


def test_an_unreadable_report_exits_2(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("{not json")
    assert coverage.main([str(tmp_path / "c.json")]) == 2
    assert coverage.main([str(tmp_path / "missing.json")]) == 2


DIFF = """--- harness/kernel/codecs.py
+++ harness/kernel/codecs.py
@@ -75,1 +75,1 @@
-    return repr(text if len(text) <= limit else text[:limit] + "…")
+    return repr(text if len(text) < limit else text[:limit] + "…")
"""


def test_a_survivor_is_its_diffs_two_lines() -> None:
    survivor = mutation.Survivor("harness/kernel/codecs.py", "7", DIFF)
    assert survivor.lines() == (
        'return repr(text if len(text) <= limit else text[:limit] + "…")',
        'return repr(text if len(text) < limit else text[:limit] + "…")',
    )


def test_a_survivor_is_accounted_for_only_by_its_module_and_both_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    survivor = mutation.Survivor("harness/kernel/codecs.py", "7", DIFF)
    original, mutated = survivor.lines()
    entry = mutation.Accounted("harness/kernel/codecs.py", original, mutated, "why")
    for accounted, matches in [
        ((entry,), True),
        ((mutation.Accounted("harness/kernel/verdicts.py", original, mutated, "why"),), False),
        ((mutation.Accounted("harness/kernel/codecs.py", original, original, "why"),), False),
        ((), False),
    ]:
        monkeypatch.setattr(mutation, "ACCOUNTED", accounted)
        assert (survivor.accounted() is not None) is matches


def test_every_argued_survivor_names_a_target_and_says_why() -> None:
    for entry in mutation.ACCOUNTED:
        assert entry.module in mutation.TARGETS
        assert entry.original != entry.mutated and len(entry.why) > 20


def test_the_targets_and_their_tests_exist() -> None:
    root = Path(mutation.ROOT)
    for module, tests in mutation.TARGETS.items():
        assert (root / module).is_file(), module
        assert tests and all((root / t).is_file() for t in tests), tests


@contextmanager
def copy_importing_the_checkout(root: Path, files: Sequence[str]) -> Iterator[mutants.Scratch]:
    """A scratch copy whose children import the checkout (its PYTHONPATH lost the copy)."""
    with mutants.scratch_copy(root, files) as scratch:
        yield replace(scratch, env={**scratch.env, "PYTHONPATH": str(root)})


@pytest.mark.skipif(shutil.which("git") is None, reason="lists the checkout's files with git")
def test_mutmut_is_not_run_on_a_copy_whose_tests_import_the_checkout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def mutmut_ran(*args: object) -> None:
        raise AssertionError(f"mutmut ran on a copy that imports the checkout: {args}")

    monkeypatch.setattr(mutation, "scratch_copy", copy_importing_the_checkout)
    monkeypatch.setattr(mutation, "_mutmut", mutmut_ran)
    assert mutation.main(["codecs"]) == 2
    said = capsys.readouterr().err
    checkout = mutants.ROOT / "streamcompat" / "__init__.py"
    refused = "not run on harness/kernel/codecs.py: a child of the scratch copy imports"
    assert f"{refused} streamcompat from {checkout}" in said, said


@pytest.mark.parametrize(
    ("test", "code"),
    [
        ("def test_passes() -> None:\n    assert True\n", 0),
        ("def test_fails() -> None:\n    assert False\n", 1),
        ("raise ImportError('a mutant broke an import')\n", 1),  # pytest alone: 2
        ("X = 1\n", 1),  # no test ran (pytest alone: 5): nothing passed
    ],
)
def test_mutmut_reads_every_failure_of_its_runner_as_a_kill(
    tmp_path: Path, test: str, code: int
) -> None:
    (tmp_path / "test_x.py").write_text(test)
    # Split as mutmut 2 splits its --runner (no shell); "python" is this environment's.
    command = shlex.split(f"{mutation.PYTEST} test_x.py")
    ran = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == code, ran.stdout + ran.stderr
