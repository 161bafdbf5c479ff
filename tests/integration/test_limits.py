"""The ``limits`` token script: where client libraries have limits of their own.

U+2028, U+2029 and U+0085 (``str.splitlines()`` cuts lines at them) and one 1 MiB
token on one line (aiohttp's line limit, Go's 64 KiB scanner). Gated against its own
baseline, ``compat-limits-baseline.json``; a few variants are pinned here, over real
sockets, to keep the suite quick.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from streamcompat.harness.kernel.tokens import HUGE_TOKEN, LIMIT_TOKENS
from tests.support import CLI, ROOT

BASELINE = ROOT / "compat-limits-baseline.json"


def test_the_limits_script_holds_what_it_promises() -> None:
    text = "".join(LIMIT_TOKENS)
    assert all(separator in text for separator in ("\u2028", "\u2029", "\u0085"))
    assert len(HUGE_TOKEN) == 1 << 20 and "\n" not in HUGE_TOKEN
    assert HUGE_TOKEN.encode("utf-8").decode("utf-8") == HUGE_TOKEN


@pytest.mark.matrix
def test_sse_raw_and_openai_rows_match_the_limits_baseline(tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = subprocess.run(
        [*CLI, "run", "--quiet", "--script", "limits", "--variant", "sse,raw,openai",
         "--network", "direct", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr  # gated against its own baseline
    assert f"gate: ok against {BASELINE.name}" in run.stdout
    cells = json.loads((results / "index.json").read_text(encoding="utf-8"))["cells"]
    verdicts = {f"{c['variant']} × {c['client']}": c for c in cells}
    # aiohttp's line reader refuses the 1 MiB line: the user is told, nothing is cut.
    aiohttp_lines = verdicts["sse × aiohttp-lines"]
    assert aiohttp_lines["verdict"] == "ERROR" and "LineTooLong" in aiohttp_lines["detail"]
