"""Runs of the CLI from the checkout, as a user runs it, with every process they start
marked so that one left behind is found."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from tests.support import CLI, ROOT
from tests.support.procs import marked

#: Marks every process of one run (children inherit it), so that any left behind is found.
RUN_MARK = "STREAMCOMPAT_TEST_RUN"


def streamcompat(tmp_path: Path, *args: str, cwd: Path = ROOT) -> tuple[int, str, dict[str, Any]]:
    """Run the CLI; its exit code, what it printed, and its cells by key (if it ran any).

    Every process of the run inherits a marker in its environment, so that one left
    behind is found whatever its parent (``marked``).
    """
    mark = uuid.uuid4().hex
    env = {**os.environ, RUN_MARK: mark}
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--results", str(tmp_path / "results"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert not marked(RUN_MARK, mark), "processes of the run were left behind"
    index = tmp_path / "results" / "index.json"
    cells = json.loads(index.read_text(encoding="utf-8"))["cells"] if index.exists() else []
    by_key = {f"{c['variant']} × {c['client']} × {c['network']}": c for c in cells}
    return run.returncode, run.stdout + run.stderr, by_key
