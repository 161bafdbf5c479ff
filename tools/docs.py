"""The docs' generated parts, from the code that holds their facts: ``nox -s docs``
writes them, ``tests/unit/test_docs.py`` fails when a committed copy is stale.

    python -m tools.docs           # rewrite the generated blocks in place
    python -m tools.docs --check   # exit 1 if any is stale (what the test asserts)

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``;
the text between is replaced whole, the rest of the file is left as it is.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from streamcompat.harness.kernel.model import FACTS

ROOT = Path(__file__).resolve().parents[1]


def verdict_table() -> str:
    """Every verdict with its one-line meaning, in the gate's order of the table."""
    rows = [f"| `{verdict.value}` | {facts.meaning} |" for verdict, facts in FACTS.items()]
    return "\n".join(["| verdict | meaning |", "|---|---|", *rows])


#: (file, block name) -> what the block holds.
BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    ("README.md", "verdicts"): verdict_table,
}


def render(text: str, name: str, body: str) -> str:
    """``text`` with block ``name`` holding ``body``; ValueError if the block is missing."""
    pattern = re.compile(
        rf"(<!-- generated: {re.escape(name)} -->\n).*?(\n<!-- end: {re.escape(name)} -->)",
        re.S,
    )
    if not pattern.search(text):
        raise ValueError(f"no generated block {name!r}")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text, count=1)


def stale(root: Path = ROOT) -> dict[Path, str]:
    """The files whose generated blocks differ from what the code says, with their new text."""
    texts: dict[Path, str] = {}
    for (name, block), make in BLOCKS.items():
        path = root / name
        texts[path] = render(texts.get(path) or path.read_text(encoding="utf-8"), block, make())
    return {p: t for p, t in texts.items() if t != p.read_text(encoding="utf-8")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs")
    parser.add_argument("--check", action="store_true", help="only say what is stale")
    args = parser.parse_args(argv)
    changed = stale()
    for path, text in changed.items():
        where = path.relative_to(ROOT)
        if args.check:
            print(f"{where}: stale; run nox -s docs")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{where}: rewritten")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
