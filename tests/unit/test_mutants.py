"""tools/mutants.py, without running a mutant: every mutant still names code that exists
(its ``old`` text once in its file) and is still Python once applied; pytest's exit codes
are judged as they should be; and a child process of the scratch copy imports the copy.
``nox -s mutants`` runs the mutants themselves."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import types

import pytest

from tests.support import ROOT

TOOL = ROOT / "tools" / "mutants.py"


@pytest.fixture(scope="module")
def mutants() -> types.ModuleType:
    """tools/mutants.py as a module (registered: its dataclasses look themselves up)."""
    spec = importlib.util.spec_from_file_location("streamcompat_mutants", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_mutants_old_text_occurs_once_in_its_file(mutants: types.ModuleType) -> None:
    found = {m.name: m.occurrences(ROOT) for m in mutants.MUTANTS}
    assert {name: n for name, n in found.items() if n != 1} == {}


def test_every_mutant_is_still_python_and_changes_something(mutants: types.ModuleType) -> None:
    for m in mutants.MUTANTS:
        original = (ROOT / m.file).read_text(encoding="utf-8")
        mutated = original.replace(m.old, m.new, 1)
        assert mutated != original, m.name
        compile(mutated, m.file, "exec")  # a syntax error would only prove that it breaks


def test_every_mutant_has_a_unique_name_and_test_files_that_exist(
    mutants: types.ModuleType,
) -> None:
    names = [m.name for m in mutants.MUTANTS]
    assert len(set(names)) == len(names)
    for m in mutants.MUTANTS:
        assert m.tests and all((ROOT / test).is_file() for test in m.tests), m.name


def test_pytest_failing_is_caught_passing_survived_anything_else_broken(
    mutants: types.ModuleType,
) -> None:
    failed = "..F\n=== short test summary info ===\nFAILED tests/test_x.py::test_y - assert 1 == 2"
    errored = "ERROR tests/test_x.py - ModuleNotFoundError: No module named 'z'\n1 error"
    judge, outcome = mutants.judge, mutants.Outcome
    assert judge(1, failed) == outcome("caught", "tests/test_x.py::test_y")
    assert judge(0, "3 passed in 0.1s") == outcome("survived", "every test passed")
    assert judge(2, errored) == outcome("broken", "pytest exited 2: tests/test_x.py")
    assert judge(5, "no tests ran in 0.01s") == outcome(
        "broken", "pytest exited 5: no tests ran in 0.01s"
    )
    assert judge(None, "no end within 900 s") == outcome("broken", "no end within 900 s")


@pytest.mark.skipif(shutil.which("git") is None, reason="lists the checkout's files with git")
def test_a_child_of_the_scratch_copy_imports_the_copy(mutants: types.ModuleType) -> None:
    with mutants.scratch_copy(ROOT, mutants.tracked_files(ROOT)) as scratch:
        where = mutants.imported_from(scratch)
        assert len(where) == 1 + len(mutants.SUBPACKAGES)
        assert all(path.is_relative_to(scratch.repo) for path in where), where
