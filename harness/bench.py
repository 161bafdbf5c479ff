"""Speed and stability figures: run the matrix several times and print what it cost.

    python -m harness.bench --runs 3 [-- streamcompat run arguments]

Prints, per run, wall time, cells per second, the median and p90 duration of a PASS
cell (browser ones apart) and time to first token; then whether every run gave the
same verdict in every cell. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.verdicts import percentile


def run_once(args: list[str], folder: Path) -> tuple[float, dict[str, Any]]:
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--quiet", "--results", str(folder), *args],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.monotonic() - began
    return wall, json.loads((folder / "index.json").read_text(encoding="utf-8"))


def figures(wall: float, index: dict[str, Any]) -> str:
    cells = index["cells"]
    passing = [c for c in cells if c["verdict"] == "PASS"]
    browser = [c["duration_ms"] for c in passing if c["client"].startswith("browser")]
    durations = [c["duration_ms"] for c in passing]
    firsts = [c["first_token_ms"] for c in passing if c["first_token_ms"] is not None]
    p90 = percentile(durations, 90) or 0.0
    return (
        f"{len(cells)} cells in {wall:.1f} s ({index['run']['wall_s']:.1f} s inside the run), "
        f"{len(cells) / index['run']['wall_s']:.1f} cells/s; PASS cell median "
        f"{statistics.median(durations or [0]):.0f} ms, p90 {p90:.0f} ms, browser median "
        f"{statistics.median(browser or [0]):.0f} ms; first token median "
        f"{statistics.median(firsts or [0]):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("run_args", nargs="*", help="passed to streamcompat run (after --)")
    args = parser.parse_args(argv)
    verdicts: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="streamcompat-bench-") as tmp:
        for k in range(args.runs):
            wall, index = run_once(args.run_args, Path(tmp) / str(k))
            print(f"run {k + 1}: {figures(wall, index)}", flush=True)
            verdicts.append(
                {
                    f"{c['variant']} × {c['client']} × {c['network']}": c["verdict"]
                    for c in index["cells"]
                }
            )
    changed = sorted(key for key in verdicts[0] if len({v.get(key) for v in verdicts}) > 1)
    print(
        f"verdicts identical in all {args.runs} runs"
        if not changed
        else f"{len(changed)} cells changed between runs: {', '.join(changed[:10])}"
    )
    return 0 if not changed else 1


if __name__ == "__main__":
    sys.exit(main())
