"""Mutation testing of the pure modules by mutmut: every mutant killed or accounted for.

    python -m tools.mutation               # every target module
    python -m tools.mutation codecs        # only those whose path holds a word
    nox -s mutmut                          # the same, in its own environment

``tools/mutants.py`` makes the mistakes a person would (a list, spanning processes); this
lets mutmut make every small one it can in the modules that are rules and nothing else
(the verdicts, the codecs, the config file's reading, the baseline, the SSE oracle). Each
target runs in a scratch copy of the repository (``tools.mutants.scratch_copy``), mutmut 2
mutating the copy's file in place and running the target's own unit tests for each
mutant. Before mutmut runs, a child of the copy must say it imports the copy
(``tools.mutants.import_problem``, the check ``tools/mutants.py`` makes): a copy whose
tests imported the checkout would report every mutant as survived.

A survivor is a mutant no test tells from the original. Each must be killed by a test or
argued equivalent in ``ACCOUNTED`` (the module, the mutated line as mutmut shows it, and
why no input tells them apart); the score is printed per module.

Exit code: 0 every survivor is accounted for; 1 one is not (it is printed, diff and all),
or an ``ACCOUNTED`` entry matches no survivor (stale); 2 mutmut could not run, or the
copy is not what its tests import.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.mutants import ROOT, import_problem, scratch_copy, tracked_files

RUN_BOUND_S = 1800.0  # one target's mutmut run
#: mutmut's classes of mutants: killed, timeout and suspicious (killed, slowly) are told
#: apart by a test; survived is not; skipped and untested were not run.
STATUSES = ("killed", "timeout", "survived", "suspicious", "skipped", "untested")
#: mutmut 2 counts a run as passing unless it exits 1 (``tests_pass``: ``returncode != 1``),
#: so a mutant that breaks a test module's import (pytest exits 2) "survived". Every
#: pytest failure exits 1 here; in one process, so mutmut's timeout ends all of it.
PYTEST = (
    'python -c "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]) != 0)"'
    " -q -x -p no:cacheprovider -m 'not matrix'"
)

#: The pure modules and the unit tests that pin each.
TARGETS: dict[str, tuple[str, ...]] = {
    "harness/kernel/verdicts.py": (
        "tests/unit/test_verdicts.py",
        "tests/unit/test_verdict_details.py",
        "tests/unit/test_many_streams.py",
        "tests/unit/test_scenario_verdicts.py",
        "tests/unit/test_replays.py",
    ),
    "harness/kernel/codecs.py": ("tests/unit/test_codecs.py",),
    "harness/front/config.py": ("tests/unit/test_config_file.py",),
    "harness/outputs/baseline.py": (
        "tests/unit/test_front_rules.py",
        "tests/unit/test_escaping.py",
        "tests/integration/test_baseline.py",
    ),
    "harness/spec/sse_oracle.py": ("tests/unit/test_sse_oracle.py",),
}


@dataclass(frozen=True)
class Accounted:
    """A survivor argued equivalent: in ``module``, the mutated line (``+`` side of
    mutmut's diff, stripped) and the original (``-`` side), and why they cannot differ."""

    module: str
    original: str
    mutated: str
    why: str


_ORACLE, _CONFIG = "harness/spec/sse_oracle.py", "harness/front/config.py"
_FALSY = "falsy either way: the attribute is only ever read as a truth value"
_TYPE = 'falsy either way: it is only read as `or "message"` and set by an event field'

ACCOUNTED: tuple[Accounted, ...] = (
    Accounted(_CONFIG, "if sys.version_info >= (3, 11):", "if sys.version_info > (3, 11):",
              "every 3.11 release's version_info is longer than (3, 11), so greater"),
    Accounted(_CONFIG, 'flag = arg.split("=", 1)[0]', 'flag = arg.split("=", 2)[0]',
              "the first piece is the same however many splits follow it"),
    Accounted("harness/outputs/baseline.py", "found.missing += [", "found.missing = [",
              "compare() made `found` itself a line above: missing is still empty"),
    Accounted(_ORACLE,
              "self._skip_lf = False  # last char was a CR: a following LF is the same line ending",
              "self._skip_lf = True  # last char was a CR: a following LF is the same line ending",
              "a stream that starts with an LF then skips it instead of reading an empty line, "
              "and an empty line before any field dispatches nothing: the same events"),
    Accounted(_ORACLE,
              "self._skip_lf = False  # last char was a CR: a following LF is the same line ending",
              "self._skip_lf = None  # last char was a CR: a following LF is the same line ending",
              _FALSY),
    Accounted(_ORACLE, "self._skip_lf = False", "self._skip_lf = None", _FALSY),
    Accounted(_ORACLE, "self._at_start = False", "self._at_start = None", _FALSY),
    Accounted(_ORACLE, 'self._event_type = ""', "self._event_type = None", _TYPE),
    Accounted(_ORACLE, "self.retry: int | None = None", "self.retry: int & None = None",
              "an annotation, never evaluated (from __future__ import annotations)"),
    Accounted(_ORACLE, "if pos < len(text):", "if pos <= len(text):",
              "at pos == len(text) it keeps an empty piece, which joins to nothing"),
    Accounted(_ORACLE, 'if line.startswith(":"):', 'if line.startswith("XX:XX"):',
              "a comment line then parses as a field named '', which the spec ignores too"),
)  # fmt: skip


@dataclass(frozen=True)
class Survivor:
    module: str
    ident: str
    diff: str

    def lines(self) -> tuple[str, str]:
        """The original and the mutated line of the diff."""
        lines = self.diff.splitlines()
        minus = [ln[1:].strip() for ln in lines if ln[:1] == "-" and ln[:3] != "---"]
        plus = [ln[1:].strip() for ln in lines if ln[:1] == "+" and ln[:3] != "+++"]
        return " ".join(minus), " ".join(plus)

    def accounted(self) -> Accounted | None:
        original, mutated = self.lines()
        for entry in ACCOUNTED:
            if (entry.module, entry.original, entry.mutated) == (self.module, original, mutated):
                return entry
        return None


def _mutmut(
    args: Sequence[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        check=False,
    )


def run_target(module: str, tests: Sequence[str]) -> tuple[int, int, list[Survivor], str]:
    """mutmut on ``module`` in a scratch copy: how many mutants, how many a test killed,
    the survivors, and why it could not run ("" when it did)."""
    with scratch_copy(ROOT, tracked_files(ROOT)) as scratch:
        problem = import_problem(scratch)
        if problem:  # mutmut would test the checkout: every mutant would survive
            return 0, 0, [], f"not run on {module}: {problem}"
        env = {**scratch.env, "PATH": f"{Path(sys.executable).parent}:{scratch.env['PATH']}"}
        # Any pytest failure exits 1 (``PYTEST``): mutmut 2 counts only that as a kill.
        runner = f"{PYTEST} {' '.join(tests)}"
        run = ["run", "--paths-to-mutate", module, "--runner", runner, "--no-progress"]
        ran = _mutmut([*run, "--tests-dir", "tests"], scratch.repo, env)
        if ran.returncode & 1:  # 1: fatal; 2, 4, 8: survivors, timeouts, slow ones
            return 0, 0, [], f"mutmut failed on {module}: {(ran.stdout + ran.stderr)[-2000:]}"
        ids = {
            status: _mutmut(["result-ids", status], scratch.repo, env).stdout.split()
            for status in STATUSES
        }
        total = sum(len(found) for found in ids.values())
        survivors = [
            Survivor(module, ident, _mutmut(["show", ident], scratch.repo, env).stdout)
            for ident in ids["survived"]
            if ident.isdigit()
        ]
        killed = sum(len(ids[status]) for status in ("killed", "timeout", "suspicious"))
        return total, killed, survivors, ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__)
    parser.add_argument("words", nargs="*", help="only target modules whose path holds one")
    args = parser.parse_args(argv)
    chosen = {m: t for m, t in TARGETS.items() if not args.words or any(w in m for w in args.words)}
    unaccounted: list[Survivor] = []
    matched: set[Accounted] = set()
    for module, tests in chosen.items():
        total, killed, survivors, failed = run_target(module, tests)
        if failed:
            print(f"mutation: {failed}", file=sys.stderr)
            return 2
        entries = {s: s.accounted() for s in survivors}
        argued = [s for s, entry in entries.items() if entry is not None]
        matched |= {entry for entry in entries.values() if entry is not None}
        score = 100.0 * killed / total if total else 100.0
        print(
            f"{module}: {total} mutants, {killed} killed ({score:.1f} %), "
            f"{len(argued)} survivors argued equivalent, "
            f"{len(survivors) - len(argued)} not accounted for"
        )
        unaccounted += [s for s, entry in entries.items() if entry is None]
    for survivor in unaccounted:
        print(f"\nsurvived: {survivor.module} #{survivor.ident}\n{survivor.diff}")
    stale = [a for a in ACCOUNTED if a.module in chosen and a not in matched]
    for entry in stale:
        print(f"mutation: stale ACCOUNTED entry, no such survivor: {entry}", file=sys.stderr)
    return 1 if unaccounted or stale else 0


if __name__ == "__main__":
    sys.exit(main())
