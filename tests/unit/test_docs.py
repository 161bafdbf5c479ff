"""The docs' generated parts are what the code says (``nox -s docs`` rewrites them)."""

from __future__ import annotations

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


def test_a_stale_copy_is_found_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "README.md").write_text(
        "<!-- generated: verdicts -->\nold\n<!-- end: verdicts -->\n"
    )
    changed = docs.stale(tmp_path)
    assert list(changed) == [tmp_path / "README.md"]
    assert docs.verdict_table() in changed[tmp_path / "README.md"]
