"""The pytest plugin: run cells from a project's own test suite and gate them on a baseline.

::

    def test_streaming_is_compatible(streamcompat_run):
        streamcompat_run(
            "mypkg.streaming:VARIANTS",
            clients="httpx-sse,requests-sseclient,browser-eventsource",
            networks="direct",
            baseline="tests/compat-baseline.json",
        )

``streamcompat_run`` runs the matrix the way ``streamcompat run`` does — same defaults,
same skipped clients, same gate rules — in an event loop of its own, and every process
it starts is ended by the runner's ``finally`` blocks before the call returns. A cell
that differs from the baseline fails the test with one line per cell, as the CLI prints
it. ``pytest --streamcompat-update`` writes the baseline instead of comparing.

This module is imported at every pytest start-up (entry point ``pytest11``): it imports
only pytest and the standard library at the top; the harness is imported on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pytest

if TYPE_CHECKING:
    from streamcompat.harness.engine.plan import Matrix, Settings
    from streamcompat.harness.front.gate import Gate
    from streamcompat.harness.front.selection import Request
    from streamcompat.harness.kernel.model import Result
    from streamcompat.harness.outputs.baseline import Comparison

#: A baseline file, or the expected verdicts themselves (``{"v × c × n": "PASS"}``).
Baseline: TypeAlias = "str | os.PathLike[str] | Mapping[str, str]"
#: Names as the CLI takes them: one comma-separated string or a sequence of names.
Names: TypeAlias = "str | Sequence[str]"

UPDATE_OPTION = "--streamcompat-update"
#: What the terminal summary reports once: skipped clients, baselines written.
_NOTICES = pytest.StashKey[dict[str, None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamcompat")
    group.addoption(
        UPDATE_OPTION,
        action="store_true",
        default=False,
        help="streamcompat_run: write the verdicts to the baseline instead of comparing",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_NOTICES] = {}


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    notices = config.stash.get(_NOTICES, {})
    if notices:
        terminalreporter.section("streamcompat")
        for line in notices:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def streamcompat_run(pytestconfig: pytest.Config) -> CompatRunner:
    """Run streamcompat cells: ``streamcompat_run(variants, clients=..., networks=...,
    baseline=...)`` returns a ``CompatRun``; with ``baseline`` it also asserts the run
    matches it (see ``CompatRun.assert_matches``). Session-scoped, so that a module- or
    session-scoped fixture can run the matrix once for several tests."""
    return CompatRunner(
        update=bool(pytestconfig.getoption(UPDATE_OPTION)),
        root=pytestconfig.rootpath,
        notices=pytestconfig.stash.setdefault(_NOTICES, {}),
    )


@dataclass(frozen=True)
class CompatRun:
    """The verdicts of one run, and the gate on a baseline."""

    results: list[Result]
    #: Clients and variants this environment cannot run (no ``node``, no npm packages, an
    #: extra not installed), and why: not run, and not compared with the baseline.
    skipped: dict[str, str] = field(default_factory=dict)
    #: The run was restricted (clients, networks or variant names chosen), so the
    #: baseline's other cells are not missing, as with ``streamcompat run --clients``.
    partial: bool = False
    #: Keys of the cells not run because of ``skipped``: neither compared nor dropped.
    skipped_keys: frozenset[str] = frozenset()
    #: ``--streamcompat-update``: ``assert_matches`` on a file writes it instead.
    update: bool = False
    #: Relative baseline paths start here: pytest's rootdir (``Path()``: the current one).
    root: Path = Path()
    notices: dict[str, None] = field(default_factory=dict, repr=False)
    #: What the reports group and compare by: the clients' kinds, the variants' framings
    #: (``outputs.results.readers``).
    readers: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def verdicts(self) -> dict[str, str]:
        """``{"variant × client × network": "PASS", ...}``, as a baseline holds them."""
        return {r.cell.key: r.verdict.value for r in self.results}

    def __getitem__(self, key: str | tuple[str, str, str]) -> Result:
        """The result of a cell, by its key or by ``(variant, client, network)``."""
        wanted = key if isinstance(key, str) else " × ".join(key)
        for result in self.results:
            if result.cell.key == wanted:
                return result
        raise KeyError(f"{wanted!r}: no such cell in this run")

    def table(self) -> str:
        """The matrix, one table per network, and the findings, as the CLI prints them."""
        from streamcompat.harness.outputs.results import matrix_table

        return matrix_table(self.results, self.readers)

    def compare(self, baseline: Baseline) -> Comparison:
        """Regressions, missing cells, improvements and new cells (``harness.baseline``)."""
        from streamcompat.harness.front.gate import verdicts_of

        expected = verdicts_of(_located(self.root, baseline))
        return self._gate(expected).compare(expected, self.results)

    def _gate(self, held: Mapping[str, str], strict: bool = False) -> Gate:
        """The gate's rules (``harness.front.gate``) for this run and a baseline of ``held``."""
        from streamcompat.harness.front.gate import Gate, leaves_out_scenarios

        scenarios = tuple(dict.fromkeys(r.cell.scenario for r in self.results)) or ("stream",)
        partial = self.partial or leaves_out_scenarios(scenarios, held)
        return Gate(partial=partial, strict=strict, skipped_keys=self.skipped_keys)

    def assert_matches(self, baseline: Baseline, *, strict: bool = False) -> None:
        """Fail, naming every cell that differs, unless the run matches ``baseline``.

        A regression (a cell worse than its baseline verdict) or a missing cell fails;
        with ``strict``, improvements and new cells fail too. A baseline file that does
        not exist fails (a gate with nothing to compare would pass anything). Under
        ``--streamcompat-update`` a file is written instead: this run's cells replace
        theirs, and cells it did not run (other clients, a partial run's other cells)
        stay.
        """
        __tracebackhide__ = True
        baseline = _located(self.root, baseline)
        if self.update and isinstance(baseline, Path):
            self._write(baseline)
            return
        what = "the expected verdicts" if isinstance(baseline, Mapping) else os.fspath(baseline)
        if isinstance(baseline, Path) and not baseline.exists():
            raise AssertionError(_no_baseline(baseline))
        try:
            found = self.compare(baseline)
        except ValueError as exc:  # not JSON, or not a baseline
            raise AssertionError(f"streamcompat: {exc}") from None
        if found.improvements and not strict:
            self.notices[f"improvements against {what}: update the baseline"] = None
        if not self._gate({}, strict).failed(found):
            return
        # The CLI's lines (``regression: v × c × n: PASS → CORRUPT (detail)``), but only
        # those that fail: a cell named here is a cell to look at.
        failing = ("regression:", "missing:", *(("improvement:", "new:") if strict else ()))
        lines = [line for line in found.lines() if line.startswith(failing)]
        hint = "" if isinstance(baseline, Mapping) else f"\nif intended: pytest {UPDATE_OPTION}"
        raise AssertionError(
            f"streamcompat: {len(lines)} cell(s) differ from {what}:\n  "
            + "\n  ".join(lines)
            + hint
        )

    def _write(self, path: Path) -> None:
        from streamcompat.harness.front.gate import kept_cells

        old = kept_cells(path)
        cells = self._gate(old).update(path, old, self.results)
        self.notices[f"baseline written: {path} ({len(cells)} cells)"] = None


@dataclass(frozen=True)
class CompatRunner:
    """The ``streamcompat_run`` fixture's value: call it to run cells."""

    update: bool = False
    root: Path = Path()
    notices: dict[str, None] = field(default_factory=dict, repr=False)

    def __call__(
        self,
        variants: Names,
        *,
        clients: Names = (),
        networks: Names = (),
        servers: Names = (),
        only: Names = (),
        baseline: Baseline | None = None,
        strict: bool = False,
        results: str | os.PathLike[str] | None = None,
        hold_window: float | None = None,
        head_window: float | None = None,
        deadline: float | None = None,
        jobs: int | None = None,
    ) -> CompatRun:
        """Run ``variants`` (``"mypkg.streaming:VARIANTS"``, ``"builtin"``, or several) ×
        ``clients`` (names or groups; default all) × ``networks`` (default direct, split)
        × ``servers`` (as ``--server`` names them, or ``"all"``; default uvicorn, the
        variant server itself: other servers' cells are keyed ``variant@server``).

        ``only`` keeps the variants of these names (``--variant``); ``results`` writes
        index.json and the reports there; the windows, deadline and jobs are those of
        ``streamcompat run``. Clients and variants this environment cannot run are
        skipped (listed in the terminal summary); if nothing can run, the test is. With
        ``baseline``, the run must match it (``CompatRun.assert_matches``).
        """
        __tracebackhide__ = True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running here: the run gets its own
        else:
            pytest.fail(
                "streamcompat_run runs its own event loop: call it from a test that is "
                "not `async def` (or from a sync fixture)",
                pytrace=False,
            )
        from streamcompat.harness.engine.server import ServerError
        from streamcompat.harness.front.selection import Request, UsageError
        from streamcompat.harness.front.settings import settings_of
        from streamcompat.harness.outputs.results import readers
        from streamcompat.servers.plugins import PluginError

        located = None if baseline is None else _located(self.root, baseline)
        if isinstance(located, Path) and not self.update and not located.exists():
            raise AssertionError(_no_baseline(located))  # before a run that could not pass
        request = Request.of(
            _names(variants), variants=only, clients=clients, networks=networks, servers=servers
        )
        specs = list(request.specs) if _names(variants) else []
        try:
            settings = settings_of(
                hold_window=hold_window, head_window=head_window, deadline=deadline, jobs=jobs
            )
            matrix, skipped, not_run = self._matrix(specs, request)
            expected = None if located is None or self.update else _scheduling(located)
            began = time.monotonic()
            found, metadata = self._play(matrix, specs, settings, expected)
        except (UsageError, PluginError, ServerError, OSError) as exc:
            # A set-up error, as the CLI's exit code 2 says it: one line, no traceback.
            raise pytest.fail.Exception(f"streamcompat: {exc}", pytrace=False) from None
        run = CompatRun(
            found,
            skipped=skipped,
            partial=request.restricted,
            skipped_keys=not_run,
            update=self.update,
            root=self.root,
            notices=self.notices,
            readers=readers(matrix.clients, matrix.variants),
        )
        print(run.table())  # captured: shown with a failing test
        if results is not None:
            _write_results(self.root / results, run, specs, settings, metadata, began)
        if baseline is not None:
            run.assert_matches(baseline, strict=strict)
        return run

    def _matrix(
        self, specs: list[str], request: Request
    ) -> tuple[Matrix, dict[str, str], frozenset[str]]:
        """The cells to run, as ``streamcompat run`` selects them; the clients, variants
        and servers this environment cannot run, and why; and the keys of their cells. If
        no cell is left, the test is skipped."""
        from streamcompat.harness.engine.plan import Matrix
        from streamcompat.harness.front.availability import available
        from streamcompat.harness.front.selection import UsageError

        if not specs:
            raise UsageError("no variants given: e.g. streamcompat_run('mypkg:VARIANTS')")
        every_client = request.select_clients()
        every_variant = request.select_variants()
        every_network = request.select_networks()
        every_server = request.select_servers()
        skipped = available(every_client, every_variant, every_network, every_server)
        matrix = Matrix(
            variants=[v for v in every_variant if v.name not in skipped.variants],
            clients=[c for c in every_client if c.name not in skipped.clients],
            networks=tuple(n for n in every_network if n not in skipped.networks),
            servers=tuple(s for s in every_server if s not in skipped.servers),
        )
        for what, why in skipped.notices():
            self.notices[f"skipped {what}: {why}"] = None
        asked = Matrix(every_variant, every_client, every_network, servers=every_server)
        not_run = frozenset(c.key for c in asked.cells() if skipped.covers(c.key))
        if not matrix.cells():
            lacking = "; ".join(f"{k}: {v}" for k, v in skipped.reasons.items())
            pytest.skip(f"streamcompat: nothing requested can run here ({lacking})")
        return matrix, skipped.reasons, not_run

    @staticmethod
    def _play(
        matrix: Matrix, specs: list[str], settings: Settings, expected: dict[str, str] | None
    ) -> tuple[list[Result], dict[str, str]]:
        """Run the cells in an event loop of their own; everything the run starts is
        ended (by PID, in the runner's ``finally`` blocks) before this returns."""
        from streamcompat.harness.engine.runner import run_matrix
        from streamcompat.harness.outputs.results import progress_line

        def progress(result: Result, done: int, total: int) -> None:
            # Captured by pytest: shown with a failing test, live with -s.
            print(progress_line(result, done, total), file=sys.stderr, flush=True)

        with _importable_by_children():
            return asyncio.run(run_matrix(matrix, specs, settings, progress, expected=expected))


def _names(value: Names) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` as a list of names, as the CLI splits them."""
    from streamcompat.harness.front.selection import names

    return names(value)


def _scheduling(baseline: Path | Mapping[str, str]) -> dict[str, str] | None:
    """The baseline's verdicts, for the runner to start waiting cells first (as the CLI
    does); None when there is none to read. Only the order of cells depends on it."""
    try:
        return _expected(baseline)
    except (ValueError, OSError):
        return None  # the gate says why, after the run


def _no_baseline(path: Path) -> str:
    return f"streamcompat: no baseline at {path}; write it with `pytest {UPDATE_OPTION}`"


def _located(root: Path, baseline: Baseline) -> Path | Mapping[str, str]:
    """A baseline file's path, from ``root`` if relative; expected verdicts as they are."""
    return baseline if isinstance(baseline, Mapping) else root / baseline


def _expected(baseline: Baseline) -> dict[str, str]:
    from streamcompat.harness.front.gate import verdicts_of

    return verdicts_of(baseline if isinstance(baseline, Mapping) else Path(baseline))


@contextlib.contextmanager
def _importable_by_children() -> Iterator[None]:
    """What this process can import, the variant server can import too.

    The server is a child process (``python -m streamcompat.servers --variants SPEC``): it
    does not see the directories pytest put on ``sys.path`` (rootdir, a test folder
    without ``__init__.py``, the ``pythonpath`` ini option), so a variant module beside
    the tests would not import there. This process's path goes to the children in
    ``PYTHONPATH`` for the run, in its order (they run this same interpreter).
    """
    before = os.environ.get("PYTHONPATH")
    ours = [os.path.abspath(entry) for entry in sys.path if entry]
    inherited = before.split(os.pathsep) if before else []
    found = [p for p in dict.fromkeys([*ours, *inherited]) if os.path.isdir(p)]
    os.environ["PYTHONPATH"] = os.pathsep.join(found)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _write_results(
    folder: Path,
    run: CompatRun,
    specs: Sequence[str],
    settings: Settings,
    metadata: dict[str, str],
    began: float,
) -> None:
    """index.json and the reports, as ``streamcompat run --results`` writes them."""
    from streamcompat.harness.front.record import run_record, write_results

    about = run_record(
        specs=specs, settings=settings, script="default", scenarios=("stream",),
        found=metadata, wall_s=time.monotonic() - began, skipped=run.skipped,
    )  # fmt: skip
    about.update(run.readers)
    write_results(folder, run.results, about, began)
