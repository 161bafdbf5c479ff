"""What index.json says about a run (its ``run`` object), and the results folder written
from it: the same record whichever front end ran the cells."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamcompat.harness.engine import differential
from streamcompat.harness.engine.app import App
from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.kernel.model import Client, Result, Variant
from streamcompat.harness.outputs.reports import write_reports
from streamcompat.harness.outputs.results import index, readers, versions, write_index


def app_record(app: App) -> dict[str, Any]:
    """What index.json says of the app under test."""
    return {
        "name": app.name,
        "command": app.command,
        "endpoint": app.endpoint,
        "body": app.body if app.method == "POST" else None,
        "codec": app.codec,
        "log": str(app.log),
    }


def run_record(
    *,
    specs: Sequence[str],
    settings: Settings,
    script: str,
    scenarios: Sequence[str],
    found: Mapping[str, str],
    wall_s: float,
    skipped: Mapping[str, str],
    app: App | None = None,
    clients: Sequence[Client] = (),
    variants: Sequence[Variant] = (),
) -> dict[str, Any]:
    """The ``run`` object: what ran (``found``: the versions the run's processes report;
    ``clients`` and ``variants``, the app's variant in app mode, what the reports group and
    compare by), with which settings, how long it took, and what was skipped and why."""
    return {
        "variants": [] if app else list(specs),
        **({"app": app_record(app)} if app else {}),
        "versions": {**versions(), **found},
        "settings": {
            "hold_window_s": settings.hold_window,
            "head_window_s": settings.head_window,
            "deadline_s": settings.deadline,
            "jobs": settings.jobs,
            "script": script,
            "think_s": settings.think,
            "scenarios": list(scenarios),
        },
        "wall_s": round(wall_s, 3),
        "skipped": dict(skipped),  # clients, variants not run, and why
        **readers(clients, variants),
    }


def write_results(
    folder: Path, results: Sequence[Result], run: dict[str, Any], began: float
) -> None:
    """index.json and the reports (matrix.md, junit.xml, report.html) in ``folder``."""
    data = index(results, run, began)
    write_index(folder / "index.json", data)
    write_reports(folder, data)


def write_differential(folder: Path, outcomes: Sequence[differential.Outcome]) -> str:
    """differential.md and differential.json in ``folder``, the table in the GitHub step
    summary too, and in the run's report.html if a run's index.json is there; returns
    the table."""
    folder.mkdir(parents=True, exist_ok=True)
    report = differential.table(outcomes)
    (folder / "differential.md").write_text(report, encoding="utf-8")
    data = json.dumps(differential.as_json(outcomes), indent=2, ensure_ascii=False)
    (folder / "differential.json").write_text(data + "\n", encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write("## Spec differential\n\n" + report + "\n")
    run_index = folder / "index.json"
    if run_index.exists():  # put the differential into the run's report.html too
        write_reports(folder, json.loads(run_index.read_text(encoding="utf-8")))
    return report
