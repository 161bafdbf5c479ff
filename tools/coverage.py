"""Branch coverage of the core modules: do the fast tests reach every rule?

    python -m coverage run -m pytest -m "not matrix"    # or all of it: nox -s coverage
    python -m coverage json -o coverage.json
    python -m tools.coverage [coverage.json]

Reads coverage.py's JSON report (``[tool.coverage]`` in pyproject.toml: branch coverage of
``streamcompat.harness``) and prints one line per core module: the share of its branches
the tests took, how many they missed, and the share of its lines they ran. A core module
holds rules (verdicts, codecs, config, the gate, scheduling, reports): a branch no test
takes is a rule no test pins, so each must reach ``BAR`` in both figures. What it leaves
uncovered should be defensive paths only; ``coverage report -m`` names the lines.

Exit code: 0 every core module reaches the bar; 1 one does not, is not in the report (no
test imported it) or a ``CORE`` pattern names no file (the list went stale); 2 the report
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # tools/ is in the repository's root
BAR = 90.0  # percent, of branches and of lines, per core module

#: The core modules, as globs from the repository's root: the kernel (the data model,
#: verdicts, codecs, networks, scenarios, the server's record), the spec oracle, the gate's
#: baseline, every report, the front end's rules and the scheduler. What is left out runs
#: processes, browsers or sockets (hosts/, engine/ but its schedule, servers/, clients/),
#: which the integration and matrix tests judge by what they do.
CORE: tuple[str, ...] = (
    "harness/kernel/*.py",
    "harness/spec/sse_oracle.py",
    "harness/outputs/baseline.py",
    "harness/outputs/reports/*.py",
    "harness/front/config.py",
    "harness/front/gate.py",
    "harness/front/selection.py",
    "harness/front/settings.py",
    "harness/front/availability.py",
    "harness/front/incidents.py",
    "harness/front/record.py",
    "harness/engine/schedule.py",
    "harness/cli.py",
)


@dataclass(frozen=True)
class Figure:
    """One module's coverage, from its ``summary`` in coverage.py's JSON report."""

    module: str
    branches: int
    missing_branches: int
    statements: int
    missing_lines: int

    @property
    def branch_percent(self) -> float:
        """Branches taken, of all; a module without branches has none to miss."""
        if not self.branches:
            return 100.0
        return 100.0 * (self.branches - self.missing_branches) / self.branches

    @property
    def line_percent(self) -> float:
        if not self.statements:
            return 100.0
        return 100.0 * (self.statements - self.missing_lines) / self.statements

    def below(self, bar: float = BAR) -> bool:
        # Rounded as printed, so that a module shown at 90.0 % is not failed at 89.96.
        return round(self.branch_percent, 1) < bar or round(self.line_percent, 1) < bar


def core_modules(root: Path = ROOT, patterns: Iterable[str] = CORE) -> tuple[list[str], list[str]]:
    """The core modules' paths (relative, sorted) and the patterns that name no file."""
    found: set[str] = set()
    stale: list[str] = []
    for pattern in patterns:
        matches = {p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file()}
        if not matches:
            stale.append(pattern)
        found |= matches
    return sorted(found), stale


def figures(report: Mapping[str, Any], root: Path = ROOT) -> dict[str, Figure]:
    """Every measured file's figures, keyed by its path from ``root`` (the report names
    files relative to where coverage ran, or absolute when outside it)."""
    out: dict[str, Figure] = {}
    for name, data in report["files"].items():
        path = Path(name)
        if path.is_absolute():
            try:
                path = path.relative_to(root)
            except ValueError:
                continue  # not this repository's
        summary = data["summary"]
        out[path.as_posix()] = Figure(
            module=path.as_posix(),
            branches=int(summary.get("num_branches", 0)),
            missing_branches=int(summary.get("missing_branches", 0)),
            statements=int(summary["num_statements"]),
            missing_lines=int(summary["missing_lines"]),
        )
    return out


def table(modules: Sequence[str], measured: Mapping[str, Figure], bar: float = BAR) -> list[str]:
    """One line per core module; a module below the bar, or not measured, says so."""
    width = max((len(m) for m in modules), default=6)
    lines = [f"{'module':<{width}}  branches  missing  lines"]
    for module in modules:
        figure = measured.get(module)
        if figure is None:
            lines.append(f"{module:<{width}}  not measured: no test imported it")
            continue
        mark = f"  below {bar:g} %" if figure.below(bar) else ""
        lines.append(
            f"{module:<{width}}  {figure.branch_percent:6.1f} %  {figure.missing_branches:7d}"
            f"  {figure.line_percent:5.1f} %{mark}"
        )
    return lines


def failures(
    modules: Sequence[str], measured: Mapping[str, Figure], stale: Sequence[str], bar: float = BAR
) -> list[str]:
    """Why the check fails, one line each; none when every core module reaches the bar."""
    out = [f"{pattern}: names no file (CORE in tools/coverage.py is stale)" for pattern in stale]
    for module in modules:
        figure = measured.get(module)
        if figure is None:
            out.append(f"{module}: not measured (no test imported it)")
        elif figure.below(bar):
            out.append(
                f"{module}: {figure.branch_percent:.1f} % of branches, "
                f"{figure.line_percent:.1f} % of lines; the bar is {bar:g} %"
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.coverage")
    parser.add_argument("report", nargs="?", default="coverage.json", type=Path,
                        help="coverage.py's JSON report (`coverage json`)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        measured = figures(json.loads(args.report.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"coverage: cannot read {args.report}: {exc!r}", file=sys.stderr)
        return 2
    modules, stale = core_modules()
    print("\n".join(table(modules, measured)))
    failed = failures(modules, measured, stale)
    for line in failed:
        print(f"coverage: {line}", file=sys.stderr)
    if not failed:
        print(f"coverage: all {len(modules)} core modules reach {BAR:g} % of branches and lines")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
