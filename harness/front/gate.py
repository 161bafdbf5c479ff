"""The gate's rules, for both front ends: which baseline a run's cells are judged by,
which of its cells are this run's to judge, and what an update writes.

- A run restricted by name (``--variant``, ``--clients``, ``--network``, from flags or the
  config file) is *partial*: the baseline's other cells are neither missing nor dropped.
  So is a run whose scenarios leave out some of those the baseline holds cells of.
- The cells of clients and variants this environment cannot run (``Skipped``) are never
  compared, and an update keeps them, a whole run's included: written without them, a
  later regression there would be only a new cell.
- ``strict``: new cells and improvements fail too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamcompat.harness.front.availability import Skipped
from streamcompat.harness.front.selection import Request
from streamcompat.harness.kernel.model import Cell, Result
from streamcompat.harness.outputs import baseline
from streamcompat.harness.outputs.baseline import Comparison
from streamcompat.servers.plugins import BUILTIN

DEFAULT_BASELINE = Path("compat-baseline.json")


def baseline_path(
    given: Path | None,
    specs: Sequence[str],
    *,
    app: bool = False,
    script: str = "default",
    scenario: str = "stream",
) -> Path | None:
    """The baseline a scenario's cells are gated against, if any: ``given``, else for the
    built-ins ``compat-baseline.json`` for the stream scenario of the default script, and
    ``compat-<script>-<scenario>-baseline.json`` without the parts that are the default."""
    if given or list(specs) != [BUILTIN] or app:
        return given
    parts = [p for p in (script, scenario) if p not in ("default", "stream")]
    return Path(f"compat-{'-'.join(parts)}-baseline.json") if parts else DEFAULT_BASELINE


def read_baseline(path: Path | None, replacing: bool) -> tuple[dict[str, str] | None, str]:
    """The baseline's verdicts (None: there is none, or it is being replaced), and why it
    could not be read. Read once: the runner schedules by it, the gate compares with it."""
    if path is None or replacing or not path.exists():
        return None, ""
    try:
        return baseline.load(path), ""
    except ValueError as exc:
        return None, str(exc)  # reported by the gate, after the run


def verdicts_of(given: Path | Mapping[str, str]) -> dict[str, str]:
    """A baseline file's verdicts, or expected verdicts given as they are."""
    if isinstance(given, Mapping):
        return {str(k): str(v) for k, v in given.items()}
    return baseline.load(given)


def kept_cells(path: Path) -> dict[str, str]:
    """The verdicts of an existing, readable baseline, for an update to keep some of
    (none of a missing or malformed one: it is replaced)."""
    try:
        return baseline.load(path) if path.exists() else {}
    except (ValueError, OSError):
        return {}


def partial(request: Request, scenarios: Sequence[str], held: Iterable[str] = ()) -> bool:
    """Whether a run leaves out cells of a baseline holding the keys ``held``: it named
    variants, clients or networks, or it leaves out scenarios the baseline holds."""
    return request.restricted or leaves_out_scenarios(scenarios, held)


def leaves_out_scenarios(scenarios: Sequence[str], held: Iterable[str]) -> bool:
    """Whether a run of ``scenarios`` leaves out cells of others that a baseline holding
    ``held`` has: ``--scenario abort`` against a file of stream and abort cells does; not
    against ``compat-abort-baseline.json``, which all abort cells are."""
    return any(_scenario_of(key) not in (*scenarios, None) for key in held)


def _scenario_of(key: str) -> str | None:
    try:
        return Cell.from_key(key).scenario
    except ValueError:
        return None  # not a cell's key: the comparison reports it as missing


@dataclass(frozen=True)
class Gate:
    """How one run is judged against one baseline."""

    partial: bool = False
    strict: bool = False
    skipped: Skipped = field(default_factory=Skipped)
    #: Keys of cells not run because of ``skipped`` (as the fixture's run lists them).
    skipped_keys: frozenset[str] = frozenset()

    def not_run_here(self, key: str) -> bool:
        """A cell this environment could not run: neither compared nor dropped."""
        return key in self.skipped_keys or self.skipped.covers(key)

    def compare(self, expected: Mapping[str, str], results: Sequence[Result]) -> Comparison:
        judged = {k: v for k, v in expected.items() if not self.not_run_here(k)}
        return baseline.compare(judged, results, partial=self.partial)

    def failed(self, found: Comparison) -> bool:
        return found.failed(self.strict)

    def updated(self, old: Mapping[str, str], results: Sequence[Result]) -> dict[str, str]:
        """The cells an update writes: this run's verdicts, and of ``old`` the cells it
        did not run that are not its to drop (a partial run's others, skipped ones)."""
        ran = {r.cell.key: r.verdict.value for r in results}
        kept = {
            k: v for k, v in old.items() if k not in ran and (self.partial or self.not_run_here(k))
        }
        return {**kept, **ran}

    def update(
        self, path: Path, old: Mapping[str, str], results: Sequence[Result]
    ) -> dict[str, str]:
        """Write the baseline at ``path`` as ``updated`` says (``old``: its cells before,
        ``kept_cells``); return the cells written."""
        cells = self.updated(old, results)
        path.parent.mkdir(parents=True, exist_ok=True)
        baseline.write(path, cells)
        return cells
