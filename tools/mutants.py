"""Mutants: the fast tests must catch each mistake on this list.

    python -m tools.mutants               # every mutant, one after another
    python -m tools.mutants lockstep      # only those whose name or file holds a word
    python -m tools.mutants --list        # what would run, without running it
    nox -s mutants                        # the same, in its own environment

A mutant is one replacement of exact text in one file, and the test files that should
catch it. For each, the repository's tracked files are copied to a scratch folder, the
replacement is made there, and its test files run against the copy, fast tests only
(``-m "not matrix"``): pytest failing is *caught*, passing *survived*, any other exit
*broken* (proves nothing); a mutant whose text is not in the source exactly once is
*stale*. The unmutated copy's test files run once first, and must pass.

Every process of those tests imports the copy, servers included: the copy's own
``streamcompat/`` gets symlinks to its ``harness/``, ``servers/`` and ``clients/`` (as the
installed package maps them) and the copy is first on ``PYTHONPATH``; a child asked where
it imports them from must answer the scratch folder, or nothing runs.

Exit code: 0 every mutant was caught; 1 one survived, broke or is stale; 2 the check
could not be made (the unmutated tests fail, the copy is not what is imported).

To add a mutant: an entry in ``MUTANTS`` (``tools/mutant_list.py``: the mistake in words,
the file, its ``old`` text, occurring once, the ``new`` text, the test files that should
catch it);
``tests/unit/test_mutants.py`` checks that every ``old`` text is still in the source once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.mutant_list import MUTANTS as MUTANTS  # the list is data, kept apart for size
from tools.mutant_list import Mutant as Mutant

ROOT = Path(__file__).resolve().parents[1]  # tools/ is in the repository's root
PACKAGE = "streamcompat"  # installed, its subpackages are the repository's folders:
SUBPACKAGES = ("harness", "servers", "clients")  # streamcompat.harness is harness/, ...
NODE_MODULES = "clients/node/node_modules"  # not tracked; the copy shares the checkout's
PYTEST = ("-m", "pytest", "-q", "-x", "-m", "not matrix", "-p", "no:cacheprovider", "-rfE")
RUN_BOUND_S = 900.0  # one pytest run of a mutant's test files; ended by PID after it
WHERE_BOUND_S = 60.0  # asking a child where it imports the package from
WHERE = "import importlib\nfor name in {names!r}: print(importlib.import_module(name).__file__)"

STATUSES = ("caught", "survived", "broken", "stale")


@dataclass(frozen=True)
class Outcome:
    """What a mutant's tests said (one of STATUSES), and where, or why."""

    status: str
    detail: str


@dataclass(frozen=True)
class Scratch:
    """A copy of the repository (``repo``) and the environment in which it is imported."""

    folder: Path
    repo: Path
    env: dict[str, str]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def tracked_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60
    )
    return [name for name in listed.stdout.decode("utf-8").split("\0") if name]


@contextmanager
def scratch_copy(root: Path, files: Sequence[str]) -> Iterator[Scratch]:
    """The tracked ``files`` of ``root`` copied to a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="streamcompat-mutant-") as name:
        folder = Path(name).resolve()  # as the paths a child reports are
        repo = folder / "repo"
        for name in files:
            source = root / name
            if source.is_file():  # a tracked file deleted in the work tree is gone here too
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, repo / name)
        if (root / NODE_MODULES).is_dir():
            (repo / NODE_MODULES).symlink_to(root / NODE_MODULES, target_is_directory=True)
        # The installed layout inside the copy: streamcompat.harness is the copy's harness/.
        # In the copy's own streamcompat/, as pytest puts the copy's root first on sys.path.
        package = repo / PACKAGE
        for name in SUBPACKAGES:
            (package / name).symlink_to(repo / name, target_is_directory=True)
        paths = [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        yield Scratch(folder, repo, env)


def imported_from(scratch: Scratch) -> list[Path]:
    """Where a child process of the scratch environment imports the package and its
    subpackages from (nothing, if it cannot). It runs in the scratch folder, which holds
    no package itself: only PYTHONPATH can find one."""
    names = [PACKAGE, *(f"{PACKAGE}.{name}" for name in SUBPACKAGES)]
    found = subprocess.run(
        [sys.executable, "-c", WHERE.format(names=names)],
        cwd=scratch.folder,
        env=scratch.env,
        capture_output=True,
        text=True,
        timeout=WHERE_BOUND_S,
        check=False,
    )
    return [Path(line).resolve() for line in found.stdout.splitlines()]


def run_tests(scratch: Scratch, tests: Sequence[str]) -> tuple[int | None, str]:
    """pytest on ``tests`` in the copy: its exit code (None: it ran out of time) and output."""
    process = subprocess.Popen(
        [sys.executable, *PYTEST, *tests],
        cwd=scratch.repo,
        env=scratch.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: ended as one, by its PID
    )
    try:
        output, _ = process.communicate(timeout=RUN_BOUND_S)
        return process.returncode, output.decode("utf-8", errors="replace")
    except subprocess.TimeoutExpired:
        return None, f"no end within {RUN_BOUND_S:.0f} s"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def first_failure(output: str) -> str:
    """The first failing test's node id from pytest's short summary, or the last line said."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0]
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(pytest said nothing)"


def judge(code: int | None, output: str) -> Outcome:
    if code == 1:
        return Outcome("caught", first_failure(output))
    if code == 0:
        return Outcome("survived", "every test passed")
    why = output if code is None else f"pytest exited {code}: {first_failure(output)}"
    return Outcome("broken", why)


def try_mutant(mutant: Mutant, files: Sequence[str]) -> Outcome:
    found = mutant.occurrences(ROOT)
    if found != 1:
        return Outcome("stale", f"its old text occurs {found} times in {mutant.file}, not once")
    with scratch_copy(ROOT, files) as scratch:
        mutant.apply(scratch.repo)
        return judge(*run_tests(scratch, mutant.tests))


def import_problem(scratch: Scratch) -> str:
    """Why a child of the scratch copy would not test the copy ("" when it would): it
    cannot import the package, or imports it from elsewhere (the checkout, installed
    editable), where no mutant is, so that every mutant would survive."""
    where = imported_from(scratch)
    if len(where) != 1 + len(SUBPACKAGES):
        return f"a child of the scratch copy cannot import {PACKAGE} and its subpackages"
    outside = [str(path) for path in where if not path.is_relative_to(scratch.repo)]
    if outside:
        return f"a child of the scratch copy imports {PACKAGE} from {', '.join(outside)}"
    return ""


def check_unmutated(files: Sequence[str], tests: Sequence[str]) -> str:
    """Why the unmutated copy cannot serve as the baseline; "" when it can."""
    with scratch_copy(ROOT, files) as scratch:
        problem = import_problem(scratch)
        if problem:
            return problem
        code, output = run_tests(scratch, tests)
        if code != 0:
            return f"the unmutated tests do not pass ({judge(code, output).detail})"
    return ""


def select(words: Sequence[str]) -> list[Mutant]:
    return [m for m in MUTANTS if not words or any(w in m.name or w in m.file for w in words)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/mutants.py", description=__doc__)
    parser.add_argument("words", nargs="*", help="only mutants whose name or file holds one")
    parser.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    args = parser.parse_args(argv)
    chosen = select(args.words)
    if not chosen:
        print(f"no mutant's name or file holds any of {args.words}", file=sys.stderr)
        return 2
    if args.list:
        for mutant in chosen:
            print(f"{mutant.file}: {mutant.name} ({', '.join(mutant.tests)})")
        return 0

    began = time.monotonic()
    files = tracked_files(ROOT)
    tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
    problem = check_unmutated(files, tests)
    if problem:
        print(f"mutants: not checked: {problem}", file=sys.stderr)
        return 2
    print(f"unmutated: {', '.join(tests)} pass in a scratch copy, imported from it")
    outcomes: list[Outcome] = []
    for mutant in chosen:
        outcome = try_mutant(mutant, files)
        outcomes.append(outcome)
        print(f"{outcome.status:<8} {mutant.name} — {outcome.detail}", flush=True)
    counts = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    said = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(f"{len(outcomes)} mutants: {said} in {time.monotonic() - began:.0f} s")
    return 0 if counts["caught"] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
