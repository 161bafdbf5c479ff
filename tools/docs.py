"""The docs' generated parts, from the code that holds their facts: ``nox -s docs``
writes them, ``tests/unit/test_docs.py`` fails when a committed copy is stale.

    python -m tools.docs           # rewrite the generated blocks in place
    python -m tools.docs --check   # exit 1 if any is stale (what the test asserts)

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``;
the text between is replaced whole, the rest of the file is left as it is.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from streamcompat.clients import CLIENTS as EVERY_CLIENT
from streamcompat.harness.kernel.model import FACTS, KEY_SEPARATOR, Cell, Verdict
from streamcompat.harness.kernel.networks import NETWORK_GROUPS
from streamcompat.harness.kernel.servers import SERVERS
from streamcompat.servers.frameworks import VARIANTS as FRAMEWORKS
from streamcompat.servers.variants import VARIANTS

#: The default run's columns (a client left out of it comes only by name).
CLIENTS = tuple(c for c in EVERY_CLIENT if c.by_default)

ROOT = Path(__file__).resolve().parents[1]


def verdict_table(root: Path = ROOT) -> str:
    """Every verdict with its one-line meaning, in the gate's order of the table."""
    rows = [f"| `{verdict.value}` | {facts.meaning} |" for verdict, facts in FACTS.items()]
    return "\n".join(["| verdict | meaning |", "|---|---|", *rows])


def pinned(
    root: Path, baseline: str, *, network: str, scenario: str | None
) -> dict[tuple[str, str], str]:
    """A pinned baseline's verdicts on one network (and scenario), by (variant, client)."""
    cells = json.loads((root / baseline).read_text(encoding="utf-8"))["cells"]
    tail = [network] if scenario is None else [network, scenario]
    found: dict[tuple[str, str], str] = {}
    for key, verdict in cells.items():
        variant, client, *rest = key.split(KEY_SEPARATOR)
        if rest == tail:
            found[variant, client] = verdict
    if not found:
        raise ValueError(f"{baseline} pins no cell on {network} {scenario or ''}".rstrip())
    return found


def short(verdict: str) -> str:
    """A verdict as a wide table shows it: passes bold, held back ``BUF``, the stream's life
    gone wrong as it is, content lost in lower case (so the passes stand out), ``–`` for a
    client that does not take the stream (UNSUPPORTED)."""
    rank = FACTS[Verdict(verdict)].rank
    if verdict == Verdict.UNSUPPORTED.value:
        return "–"
    if rank == 0:
        return f"**{verdict}**"
    if verdict == Verdict.BUFFERED.value:
        return "BUF"
    return verdict if rank == 1 else verdict.lower()


def matrix(
    root: Path,
    baseline: str,
    *,
    network: str = "direct",
    scenario: str | None = None,
    variants: Sequence[str] | None = None,
    clients: Sequence[str] | None = None,
    cell: Callable[[str], str] = short,
) -> str:
    """Variants down, clients across, as the baseline pins them (``?`` where it pins none;
    by default the variants and clients it pins any cell of: a scenario's baseline may pin
    fewer)."""
    found = pinned(root, baseline, network=network, scenario=scenario)
    rows_held = {row for row, _ in found}
    rows = [v.name for v in VARIANTS if v.name in rows_held] if variants is None else variants
    held = {col for _, col in found}
    cols = [c.name for c in CLIENTS if c.name in held] if clients is None else list(clients)
    lines = ["| variant | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in rows:
        shown = [cell(found[row, col]) if (row, col) in found else "?" for col in cols]
        lines.append(f"| {row} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def by_server(root: Path, baseline: str, scenario: str) -> str:
    """A baseline of several servers' cells: its variants' rows server by server."""
    held = {row for row, _ in pinned(root, baseline, network="direct", scenario=scenario)}
    rows = [Cell(v.name, "", server=s).row for s in SERVERS for v in VARIANTS]
    return matrix(root, baseline, scenario=scenario, variants=[r for r in rows if r in held])


def default_matrix(root: Path = ROOT) -> str:
    """The whole default matrix; the heading says whether ``split`` changed any cell."""
    direct = pinned(root, "compat-baseline.json", network="direct", scenario=None)
    split = pinned(root, "compat-baseline.json", network="split", scenario=None)
    same = "`split` gives the same" if split == direct else "`split` differs: see the baseline"
    size = f"{len(VARIANTS)} variants × {len(CLIENTS)} clients"
    title = f"## The whole default matrix ({size}, direct; {same})"
    return title + "\n\n" + matrix(root, "compat-baseline.json")


def real_differences(root: Path = ROOT) -> str:
    """Per variant and real network: the cells whose verdict differs from ``direct``'s,
    as ``n × OLD → NEW`` (``=``: every client as on direct)."""
    direct = pinned(root, "compat-baseline.json", network="direct", scenario=None)
    cells = json.loads((root / "compat-real-baseline.json").read_text(encoding="utf-8"))["cells"]
    pinned_here = {k.split(KEY_SEPARATOR)[2] for k in cells}
    networks = [n for n in NETWORK_GROUPS["real"] if n in pinned_here]
    lines = ["| variant | " + " | ".join(networks) + " |", "|---" * (len(networks) + 1) + "|"]
    for variant in (
        v.name for v in VARIANTS if any(k.startswith(v.name + KEY_SEPARATOR) for k in cells)
    ):
        shown = []
        for net in networks:
            changes: dict[str, int] = {}
            for client in (c.name for c in CLIENTS):
                now = cells.get(KEY_SEPARATOR.join((variant, client, net)))
                before = direct.get((variant, client))
                if now and before and now != before:
                    change = f"{short(before)} → {short(now)}"
                    changes[change] = changes.get(change, 0) + 1
            shown.append("<br>".join(f"{n} × {c}" for c, n in changes.items()) or "=")
        lines.append(f"| {variant} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


#: The seed's table (lanarky #121 and the design's telling of it): what its user saw, and
#: the client of the matrix that does what they did.
SEED_ROWS = (
    ("`fetch()`: tokens as they come", "`browser-fetch`"),
    ("EventSource: nothing", "`browser-eventsource`"),
    ("Postman's SSE view: nothing until the end (not automatable here)",
     "`browser-fetch-event-source` (an SSE parser that can POST, as Postman)"),
    ("axios: nothing until the end", "`browser-axios` (`await axios.post(...)`, XHR adapter)"),
)  # fmt: skip


def seed_table(root: Path = ROOT) -> str:
    """The seed's table row by row: the ``raw-event-stream`` variant's pinned verdict and
    the seed's own app's (lanarky 0.7.16, examples/lanarky07_app.py), on ``direct``."""
    variant = pinned(root, "compat-baseline.json", network="direct", scenario=None)
    app = pinned(root, "examples/lanarky07-app-baseline.json", network="direct", scenario=None)
    lines = [
        "| the seed's user saw | in the matrix | `raw-event-stream` | lanarky07-app |",
        "|---|---|---|---|",
    ]
    for said, client in SEED_ROWS:
        name = client.split("`")[1]
        shown = (short(variant["raw-event-stream", name]), short(app["lanarky07-app", name]))
        lines.append(f"| {said} | {client} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def frameworks_matrix(root: Path = ROOT) -> str:
    """The frameworks' rows (``servers.frameworks``) under each server, on direct, for the
    clients that read plain text (those raw passes or holds back; the others are muted)."""
    baseline = "compat-frameworks-baseline.json"
    found = pinned(root, baseline, network="direct", scenario=None)
    raw = pinned(root, "compat-baseline.json", network="direct", scenario=None)
    rows = [
        row
        for name in SERVERS
        for v in FRAMEWORKS
        if any(r == (row := Cell(v.name, "-", server=name).row) for r, _ in found)
    ]
    readers = [c.name for c in CLIENTS if raw.get(("raw", c.name)) in ("PASS", "BUFFERED")]
    return matrix(root, baseline, variants=rows, clients=readers)


def frameworks_scenarios(root: Path = ROOT) -> str:
    """The frameworks' rows under each server in the abort and error scenarios, as
    ``compat-frameworks-scenarios-baseline.json`` pins them."""
    baseline = "compat-frameworks-scenarios-baseline.json"
    tables = []
    for scenario in ("abort", "error"):
        found = {row for row, _ in pinned(root, baseline, network="direct", scenario=scenario)}
        rows = [
            row
            for name in SERVERS
            for v in FRAMEWORKS
            if (row := Cell(v.name, "-", server=name).row) in found
        ]
        tables.append(
            f"`{scenario}`:\n\n" + matrix(root, baseline, scenario=scenario, variants=rows)
        )
    return "\n\n".join(tables)


def pitfalls(root: Path = ROOT) -> str:
    """What users report of each server and framework, with its source: their records'
    ``pitfalls`` (``kernel.servers``, ``servers.frameworks``), as ``streamcompat list``."""
    said: dict[str, list[str]] = {}
    for record in SERVERS.values():
        for pitfall in record.known:
            said.setdefault(pitfall, []).append(f"server `{record.name}`")
    for variant in FRAMEWORKS:
        for pitfall in variant.pitfalls:
            said.setdefault(pitfall, []).append(f"`{variant.name}`")
    lines = ["| of | what its users report, and where |", "|---|---|"]
    lines += [f"| {', '.join(names)} | {pitfall} |" for pitfall, names in said.items()]
    return "\n".join(lines)


#: (file, block name) -> what the block holds, from the checkout at ``root``.
BLOCKS: dict[tuple[str, str], Callable[[Path], str]] = {
    ("README.md", "verdicts"): verdict_table,
    ("README.md", "small-matrix"): functools.partial(
        matrix,
        baseline="compat-baseline.json",
        variants=["raw", "raw-event-stream", "sse", "sse-json"],
        clients=[c.name for c in CLIENTS[:6]],
        cell=str,
    ),
    ("docs/findings.md", "default-matrix"): default_matrix,
    ("docs/findings.md", "real-networks"): real_differences,
    ("docs/findings.md", "seed-table"): seed_table,
    ("docs/findings.md", "frameworks-matrix"): frameworks_matrix,
    ("docs/findings.md", "frameworks-scenarios"): frameworks_scenarios,
    ("docs/findings.md", "pitfalls"): pitfalls,
    **{
        ("docs/scenarios.md", f"{scenario}-matrix"): functools.partial(
            matrix, baseline=f"compat-{scenario}-baseline.json", scenario=scenario
        )
        for scenario in ("abort", "error", "error-first", "keep-alive")
    },
    ("docs/scenarios.md", "keep-alive-servers"): lambda root: by_server(
        root, "compat-servers-keep-alive-baseline.json", "keep-alive"
    ),
}


def render(text: str, name: str, body: str) -> str:
    """``text`` with block ``name`` holding ``body``; ValueError if the block is missing."""
    pattern = re.compile(
        rf"(<!-- generated: {re.escape(name)} -->\n).*?(<!-- end: {re.escape(name)} -->)",
        re.S,
    )
    if not pattern.search(text):
        raise ValueError(f"no generated block {name!r}")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)


def stale(root: Path = ROOT) -> dict[Path, str]:
    """The files whose generated blocks differ from what the code says, with their new text."""
    texts: dict[Path, str] = {}
    for (name, block), make in BLOCKS.items():
        path = root / name
        texts[path] = render(texts.get(path) or path.read_text(encoding="utf-8"), block, make(root))
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
