"""The gate: compare a run's verdicts with the committed baseline.

The baseline holds verdicts only (timings vary; verdicts must not), keyed by
``variant × client × network``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamcompat.harness.kernel.model import FACTS, Result, Verdict
from streamcompat.harness.outputs.reports.terminal import plain

#: Lower is better. A move to a lower rank is an improvement; any other change regresses.
RANK = {verdict: facts.rank for verdict, facts in FACTS.items()}  # the gate's order


@dataclass
class Comparison:
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One terminal line per finding: a detail carries a server's and a client's words,
        so each is made ``plain``."""
        out = [f"regression: {line}" for line in self.regressions]
        out += [f"missing: {line}" for line in self.missing]
        out += [f"improvement: {line}" for line in self.improvements]
        out += [f"new: {line}" for line in self.new]
        return [plain(line) for line in out]

    def failed(self, strict: bool = False) -> bool:
        return bool(
            self.regressions or self.missing or (strict and (self.new or self.improvements))
        )


def load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not UTF-8, or not JSON (an empty file: /dev/null)
        raise ValueError(f"{path}: not a streamcompat baseline (not JSON: {exc})") from exc
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, dict):
        raise ValueError(f"{path}: not a streamcompat baseline (no 'cells' object)")
    return {str(k): str(v) for k, v in cells.items()}


def save(path: Path, results: Sequence[Result], keep: Mapping[str, str] | None = None) -> None:
    """Write the results' verdicts; ``keep``: cells of the old baseline that this run did
    not run (a restricted run updates its cells, not the whole file)."""
    write(path, {**(keep or {}), **{r.cell.key: r.verdict.value for r in results}})


def write(path: Path, cells: Mapping[str, str]) -> None:
    """Write a baseline file of these verdicts (``{"v × c × n": "PASS"}``), sorted."""
    text = json.dumps(
        {"schema": 1, "cells": dict(sorted(cells.items()))}, indent=2, ensure_ascii=False
    )
    path.write_text(text + "\n", encoding="utf-8")


def compare(
    baseline: dict[str, str], results: Sequence[Result], *, partial: bool = False
) -> Comparison:
    """Regressions, improvements and new cells; ``partial`` runs do not miss other cells."""
    found = Comparison()
    ran = {r.cell.key: r for r in results}
    for key, result in ran.items():
        before = baseline.get(key)
        now = result.verdict
        if before is None:
            found.new.append(f"{key}: {now.value} ({result.detail})")
        elif before != now.value:
            line = f"{key}: {before} → {now.value} ({result.detail})"
            better = before in Verdict.__members__ and RANK[now] < RANK[Verdict(before)]
            (found.improvements if better else found.regressions).append(line)
    if not partial:
        found.missing += [
            f"{key}: {v} → (cell not run)" for key, v in baseline.items() if key not in ran
        ]
    return found
