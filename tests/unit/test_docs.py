"""The docs' generated parts are what the code says (``nox -s docs`` rewrites them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import docs


def test_the_committed_docs_are_not_stale() -> None:
    assert docs.stale() == {}, "run nox -s docs"


def test_the_verdict_table_has_every_verdict_once() -> None:
    from streamcompat.harness.kernel.model import FACTS

    rows = docs.verdict_table().splitlines()[2:]
    assert [r.split("`")[1] for r in rows] == [v.value for v in FACTS]
    meanings = [f.meaning for f in FACTS.values()]
    assert all(row.endswith(f" {m} |") for row, m in zip(rows, meanings, strict=True))


def test_a_block_is_replaced_whole_and_nothing_else() -> None:
    text = "a\n<!-- generated: x -->\nold\nlines\n<!-- end: x -->\nb\n"
    assert docs.render(text, "x", "new") == "a\n<!-- generated: x -->\nnew\n<!-- end: x -->\nb\n"
    with pytest.raises(ValueError, match="no generated block"):
        docs.render("a\n", "x", "new")


def _copy_of_the_checkout(tmp_path: Path) -> Path:
    """The files the generated blocks live in and are made from, as committed."""
    baselines = [
        *docs.ROOT.glob("compat-*baseline.json"),
        *docs.ROOT.glob("examples/*baseline.json"),
    ]
    names = {name for name, _ in docs.BLOCKS} | {
        p.relative_to(docs.ROOT).as_posix() for p in baselines
    }
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((docs.ROOT / name).read_bytes())
    return tmp_path


def test_a_stale_copy_is_found_and_rewritten(tmp_path: Path) -> None:
    root = _copy_of_the_checkout(tmp_path)
    readme = root / "README.md"
    readme.write_text(docs.render(readme.read_text(), "verdicts", "old"))
    changed = docs.stale(root)
    assert list(changed) == [readme]
    assert docs.verdict_table() in changed[readme]


def test_the_findings_follow_the_pinned_baseline(tmp_path: Path) -> None:
    """A verdict changed in a baseline changes its table, and nothing else goes stale."""
    root = _copy_of_the_checkout(tmp_path)
    assert docs.stale(root) == {}
    baseline = root / "compat-abort-baseline.json"
    pinned = json.loads(baseline.read_text())
    pinned["cells"]["sse-cr × httpx-sse × direct × abort"] = "LEAK"
    baseline.write_text(json.dumps(pinned))
    changed = docs.stale(root)
    assert list(changed) == [root / "docs/scenarios.md"]
    row = next(
        r for r in changed[root / "docs/scenarios.md"].splitlines() if r.startswith("| sse-cr |")
    )
    assert row.split(" | ")[8] == "LEAK"


def test_the_seeds_table_follows_the_seeds_app(tmp_path: Path) -> None:
    root = _copy_of_the_checkout(tmp_path)
    baseline = root / "examples" / "lanarky07-app-baseline.json"
    pinned = json.loads(baseline.read_text())
    pinned["cells"]["lanarky07-app × browser-axios × direct"] = "PASS"
    baseline.write_text(json.dumps(pinned))
    changed = docs.stale(root)
    assert list(changed) == [root / "docs/findings.md"]
    row = next(r for r in changed[root / "docs/findings.md"].splitlines() if "`browser-axios`" in r)
    assert row.split(" | ")[2:] == ["BUF", "**PASS** |"]


def test_the_split_claim_in_the_heading_is_read_from_the_baseline(tmp_path: Path) -> None:
    root = _copy_of_the_checkout(tmp_path)
    assert "`split` gives the same" in docs.default_matrix(root)
    baseline = root / "compat-baseline.json"
    pinned = json.loads(baseline.read_text())
    pinned["cells"]["raw × curl × split"] = "BUFFERED"
    baseline.write_text(json.dumps(pinned))
    assert "`split` differs" in docs.default_matrix(root)


@pytest.mark.parametrize(
    ("verdict", "shown"),
    [
        ("PASS", "**PASS**"),
        ("STOPPED", "**STOPPED**"),
        ("TOLD", "**TOLD**"),
        ("BUFFERED", "BUF"),
        ("LEAK", "LEAK"),
        ("TRUNCATED", "TRUNCATED"),
        ("REPLAYS", "replays"),
        ("CORRUPT", "corrupt"),
        ("SILENT", "silent"),
        ("ERROR", "error"),
        ("TIMEOUT", "timeout"),
        ("UNSUPPORTED", "–"),
    ],
)
def test_each_verdict_has_its_short_form(verdict: str, shown: str) -> None:
    assert docs.short(verdict) == shown


def test_the_short_forms_cover_every_verdict() -> None:
    from streamcompat.harness.kernel.model import FACTS

    assert {docs.short(v.value) for v in FACTS} >= {"**PASS**", "BUF", "–"}
    assert len({docs.short(v.value) for v in FACTS}) == len(FACTS)


def test_a_baseline_without_the_network_is_refused(tmp_path: Path) -> None:
    root = _copy_of_the_checkout(tmp_path)
    with pytest.raises(ValueError, match="pins no cell on nginx"):
        docs.pinned(root, "compat-baseline.json", network="nginx", scenario=None)
