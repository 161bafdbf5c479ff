"""The ``streamcompat`` command: ``list`` what can run, ``run`` the matrix and gate it,
``spec`` the differential of SSE-parsing clients against the spec corpus.

Exit codes: 0 every cell matches the baseline (or no baseline), 1 a regression (a cell
worse than its baseline verdict, or gone), 2 usage or set-up error (a variant server that
died and could not be restarted too), 130/143 interrupted by SIGINT/SIGTERM (after ending
every server and browser of the run). No traceback reaches the console: an exception
nobody handled is written to ``harness-errors.log`` in the results folder, and one line
says so.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamcompat.harness.engine import differential
from streamcompat.harness.engine.app import App
from streamcompat.harness.engine.proxy import DESCRIPTIONS, NETWORKS
from streamcompat.harness.engine.runner import Matrix, Settings, default_jobs, run_matrix
from streamcompat.harness.engine.server import ServerError, ServerProcess
from streamcompat.harness.front import config
from streamcompat.harness.hosts.browser import find_chromium
from streamcompat.harness.kernel.model import Cell, Client, Result, Variant
from streamcompat.harness.kernel.scenarios import DEFAULT_SCENARIOS, SCENARIOS
from streamcompat.harness.kernel.tokens import HOLD_WINDOWS, SCRIPTS, THINK_S
from streamcompat.harness.outputs import baseline
from streamcompat.harness.outputs.reports import write_reports
from streamcompat.harness.outputs.results import (
    index,
    matrix_table,
    progress_line,
    summary,
    versions,
    write_index,
)
from streamcompat.harness.spec.sse_corpus import CASES
from streamcompat.servers.plugins import BUILTIN, PluginError, load_variants

DEFAULT_NETWORKS = ("direct", "split")
DEFAULT_BASELINE = Path("compat-baseline.json")


class UsageError(Exception):
    pass


def _clients() -> tuple[Client, ...]:
    from streamcompat.clients import CLIENTS

    return CLIENTS


def _split(values: Sequence[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part]


#: What to install for the libraries an app under test often pins itself.
EXTRAS_HINT = "pip install 'streamcompat[sse]'"


def unavailable(clients: Sequence[Client]) -> dict[str, str]:
    """Clients whose programs or npm packages this machine lacks, with the reason."""
    from streamcompat.clients import npm  # the clients' package: imported when needed

    missing = {
        c.name: f"{', '.join(gone)} not installed"
        for c in clients
        if (gone := [x for x in c.requires if shutil.which(x) is None])
    }
    missing |= {
        c.name: f"{', '.join(gone)} not installed ({EXTRAS_HINT})"
        for c in clients
        if c.name not in missing and (gone := lacking(c.modules))
    }
    wanting = [c for c in clients if c.npm and c.name not in missing]
    if wanting and npm.installed() is None:
        # First use outside a checkout: install them once, saying so.
        print(
            f"streamcompat: installing the clients' npm packages into {npm.cache_root()} "
            "(once; `streamcompat setup` does it ahead)",
            file=sys.stderr,
        )
        try:
            npm.install()
        except (npm.SetupFailed, OSError) as exc:
            missing |= {c.name: f"npm packages not installed ({exc})" for c in wanting}
    return missing


def setup_command() -> int:
    """Install what the clients need outside a checkout: the npm packages, a Chromium."""
    from streamcompat.clients import npm

    try:
        folder = npm.install()
    except (npm.SetupFailed, OSError) as exc:
        print(f"streamcompat setup: npm packages: {exc}", file=sys.stderr)
        return 1
    print(f"npm packages: {folder / 'node' / 'node_modules'}")
    chromium = find_chromium() or _playwright_chromium()
    if chromium:
        print(f"Chromium: {chromium}")
        return 0
    print("Chromium: none found; installing Playwright's (python -m playwright install chromium)")
    done = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=False)
    if done.returncode != 0:
        print(
            "streamcompat setup: Chromium could not be installed; install one "
            "(`apt-get install chromium` on Debian/Ubuntu) or set STREAMCOMPAT_CHROMIUM",
            file=sys.stderr,
        )
        return 1
    return 0


def _playwright_chromium() -> str:
    """Playwright's own Chromium, if it has been downloaded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if Path(path).exists() else ""


def select_clients(wanted: Sequence[str]) -> list[Client]:
    """Clients by name or by group (``python``, ``browser``, ...); all when none is asked."""
    every = _clients()
    if not wanted:
        return list(every)
    chosen = [c for c in every if c.name in wanted or c.group in wanted]
    unknown = [w for w in wanted if w not in {c.name for c in every} | {c.group for c in every}]
    if unknown:
        raise UsageError(
            f"unknown client(s): {', '.join(unknown)}; known: {', '.join(c.name for c in every)}"
        )
    return chosen


def select_networks(wanted: Sequence[str]) -> tuple[str, ...]:
    if not wanted:
        return DEFAULT_NETWORKS
    if "all" in wanted:
        return NETWORKS
    unknown = [w for w in wanted if w not in NETWORKS]
    if unknown:
        raise UsageError(f"unknown network(s): {', '.join(unknown)}; known: {', '.join(NETWORKS)}")
    return tuple(dict.fromkeys(wanted))


def select_scenarios(wanted: Sequence[str]) -> tuple[str, ...]:
    if not wanted:
        return DEFAULT_SCENARIOS
    if "all" in wanted:
        return tuple(SCENARIOS)
    unknown = [w for w in wanted if w not in SCENARIOS]
    if unknown:
        known = ", ".join(SCENARIOS)
        raise UsageError(f"unknown scenario(s): {', '.join(unknown)}; known: {known}")
    return tuple(dict.fromkeys(wanted))


def select_variants(specs: Sequence[str], names: Sequence[str]) -> list[Variant]:
    variants = load_variants(specs)
    unknown = [n for n in names if n not in {v.name for v in variants}]
    if unknown:
        raise UsageError(f"unknown variant(s): {', '.join(unknown)}")
    return [v for v in variants if not names or v.name in names]


def lacking(modules: Sequence[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def variants_unavailable(variants: Sequence[Variant]) -> dict[str, str]:
    """Variants whose response needs a library this environment lacks, with the reason."""
    return {
        v.name: f"{', '.join(gone)} not installed ({EXTRAS_HINT})"
        for v in variants
        if (gone := lacking(v.modules))
    }


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="streamcompat",
        description="Which clients show your streamed tokens intact and as they are produced?",
    )
    commands = top.add_subparsers(dest="command", required=True)
    for name in ("run", "list"):
        sub = commands.add_parser(name, help=f"{name} the matrix")
        sub.add_argument(
            "--variants",
            action="append",
            default=[],
            metavar="SPEC",
            help="'builtin' (default) or module:attr naming a Variant or a list of them; "
            "repeatable",
        )
    commands.add_parser(
        "setup",
        help="install the clients' npm packages (per user) and find or install a Chromium",
    )
    spec = commands.add_parser(
        "spec", help="the differential: every SSE-parsing client against the spec corpus"
    )
    spec.add_argument("--clients", action="append", default=[], metavar="NAMES")
    spec.add_argument(
        "--network",
        action="append",
        default=[],
        metavar="NAMES",
        help="networks, comma-separated (default: direct, split)",
    )
    spec.add_argument("--results", type=Path, default=Path("results"), metavar="DIR")
    spec.add_argument("--jobs", type=int, default=default_jobs(), metavar="N")
    run = commands.choices["run"]
    run.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these variants (repeatable, comma-separated)",
    )
    run.add_argument(
        "--clients",
        action="append",
        default=[],
        metavar="NAMES",
        help="client names or groups (python, browser, node, cli), comma-separated",
    )
    run.add_argument(
        "--network",
        action="append",
        default=[],
        metavar="NAMES",
        help=f"networks, comma-separated, or 'all': {', '.join(NETWORKS)} "
        f"(default: {', '.join(DEFAULT_NETWORKS)})",
    )
    run.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAMES",
        help=f"scenarios, comma-separated, or 'all': {', '.join(SCENARIOS)} (default: "
        f"{', '.join(DEFAULT_SCENARIOS)}); scenarios other than stream run on the direct "
        "network unless --network says otherwise, each gated against its own baseline",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        metavar="N",
        help="cells working at once (default: one per CPU, plus one)",
    )
    run.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="folder for index.json (default: results)",
    )
    run.add_argument("--json", type=Path, metavar="FILE", help="also write the index here")
    run.add_argument("--html", type=Path, metavar="FILE", help="also write report.html here")
    run.add_argument(
        "--script",
        choices=sorted(SCRIPTS),
        default="default",
        help="the token script: 'limits' adds U+2028/U+2029/U+0085 and a 1 MiB token; "
        f"'think': the model thinks {THINK_S['think']:g} s before its first token, clients "
        "keep their libraries' default timeouts (each gated against its own baseline)",
    )
    run.add_argument(
        "--hold-window",
        type=float,
        default=None,
        metavar="S",
        help="how long a token may take to surface before it counts as held back "
        f"(default: {Settings.hold_window:g}; --script limits: {HOLD_WINDOWS['limits']:g})",
    )
    run.add_argument(
        "--head-window",
        type=float,
        default=Settings.head_window,
        metavar="S",
        help="how long a response head may take once the request reached the server; "
        "a cell whose server sends none by then ends as TIMEOUT",
    )
    run.add_argument(
        "--deadline",
        type=float,
        default=Settings.deadline,
        metavar="S",
        help="per-cell deadline; every cell has a verdict by then",
    )
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help=f"expected verdicts (default: {DEFAULT_BASELINE} for the built-ins)",
    )
    run.add_argument(
        "--update-baseline",
        action="store_true",
        help="write this run's verdicts to the baseline instead of comparing",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="new cells and improvements fail too (until the baseline is updated)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    add_app_options(run)
    return top


def add_app_options(run: argparse.ArgumentParser) -> None:
    """App mode: gate the user's real app, pointed at the fake OpenAI upstream."""
    group = run.add_argument_group(
        "app mode", "gate your app: it is started with OPENAI_BASE_URL at a gated fake upstream"
    )
    group.add_argument(
        "--app", metavar="COMMAND", help='e.g. "uvicorn myapp.main:app --port {port}"'
    )
    group.add_argument("--app-name", default="app", metavar="NAME", help="its cells' name")
    group.add_argument(
        "--endpoint",
        default=App.endpoint,
        metavar="'METHOD /PATH'",
        help=f"its streaming route (default: {App.endpoint}; a GET's query holds {{prompt}})",
    )
    group.add_argument(
        "--body", default=App.body, metavar="JSON", help=f"POST body (default: {App.body})"
    )
    group.add_argument(
        "--codec",
        default=App.codec,
        help="how a payload maps to text: text, json, json:<key>, openai (default: text)",
    )
    group.add_argument("--event", default=App.event, help="SSE: the event type of tokens")
    group.add_argument("--end-event", default=App.end_event, help="SSE: the end's event type")
    group.add_argument("--end-data", default=None, help="SSE: the end's data (e.g. [DONE])")
    group.add_argument(
        "--app-start-timeout",
        type=float,
        default=App.start_timeout,
        metavar="S",
        help="how long the app may take to listen (default: 30)",
    )


def app_of(args: argparse.Namespace) -> App | None:
    """The app to gate, from the options (None: the variants' run)."""
    if not args.app:
        return None
    if args.variants or args.variant:
        raise UsageError("--app gates an app; --variants/--variant do not go with it")
    return App(
        command=args.app,
        endpoint=args.endpoint,
        body=args.body,
        codec=args.codec,
        event=args.event,
        end_event=args.end_event,
        end_data=args.end_data,
        name=args.app_name,
        start_timeout=args.app_start_timeout,
        log=args.results / f"{args.app_name}.log",
    )


def list_command(args: argparse.Namespace) -> int:
    variants = load_variants(args.variants or [BUILTIN])
    print(f"variants ({len(variants)}):")
    for v in variants:
        print(f"  {v.name:<22} {v.content_type:<20} codec={v.codec:<11} {v.description}")
    clients = _clients()
    print(f"clients ({len(clients)}):")
    for c in clients:
        print(f"  {c.name:<22} {c.group:<8} {c.kind:<6} {c.description}")
    print(f"networks ({len(NETWORKS)}):")
    for name in NETWORKS:
        default = " (default)" if name in DEFAULT_NETWORKS else ""
        print(f"  {name:<22} {DESCRIPTIONS[name]}{default}")
    print(f"scenarios ({len(SCENARIOS)}):")
    for scenario in SCENARIOS.values():
        default = " (default)" if scenario.name in DEFAULT_SCENARIOS else ""
        print(f"  {scenario.name:<22} {scenario.description}{default}")
    return 0


async def run_command(args: argparse.Namespace) -> int:
    specs = args.variants or [BUILTIN]
    app = app_of(args)
    # In app mode the variant server is only the fake upstream: its built-ins go unused.
    served = [BUILTIN] if app else specs
    # Begun now, so that its imports (a second or two) overlap the harness's own set-up
    # below (the client libraries: openai alone takes most of a second); the run ends it.
    server = ServerProcess(served, SCRIPTS[args.script])
    server.begin()
    try:
        return await _run(args, specs, app, server)
    finally:
        await server.stop()


async def _run(
    args: argparse.Namespace, specs: list[str], app: App | None, server: ServerProcess
) -> int:
    chosen = select_clients(_split(args.clients))
    skipped = unavailable(chosen)
    for name, why in skipped.items():
        print(f"streamcompat: skipping {name}: {why}", file=sys.stderr)
    variants = [app.variant()] if app else select_variants(specs, _split(args.variant))
    skipped_variants = variants_unavailable(variants)
    for name, why in skipped_variants.items():
        print(f"streamcompat: skipping variant {name}: {why}", file=sys.stderr)
    matrix = Matrix(
        variants=[v for v in variants if v.name not in skipped_variants],
        clients=[c for c in chosen if c.name not in skipped],
        networks=select_networks(_split(args.network)),
        scenarios=select_scenarios(_split(args.scenario)),
        # What a client does when it leaves, or a chain fails, is the client's and the
        # server's: on split the 510 cells gave the same verdicts (measured), in more time.
        scenario_networks=None if args.network else ("direct",),
    )
    if args.hold_window is None:
        args.hold_window = HOLD_WINDOWS.get(args.script, Settings.hold_window)
    for flag, value in (
        ("--hold-window", args.hold_window),
        ("--head-window", args.head_window),
        ("--deadline", args.deadline),
    ):
        if not value > 0:
            raise UsageError(f"{flag} must be a positive number of seconds, not {value:g}")
    settings = Settings(
        hold_window=args.hold_window,
        head_window=args.head_window,
        deadline=args.deadline,
        jobs=args.jobs,
        tokens=SCRIPTS[args.script],
        think=THINK_S.get(args.script, 0.0),
    )
    cells = matrix.cells()
    shape = f"{len(matrix.variants)} variants × {len(matrix.clients)} clients"
    if matrix.scenarios == ("stream",):
        shape += f" × {len(matrix.networks)} networks"
    else:  # each scenario with the networks it runs on
        on = {
            s: dict.fromkeys(c.network for c in cells if c.scenario == s) for s in matrix.scenarios
        }
        shape += "; " + "; ".join(f"{s} on {', '.join(n)}" for s, n in on.items())
    print(f"streamcompat: {len(cells)} cells ({shape})", file=sys.stderr)

    def progress(result: Result, done: int, total: int) -> None:
        if not args.quiet:
            print(progress_line(result, done, total), file=sys.stderr, flush=True)

    # Each scenario is gated against its own baseline file (see ``baseline_path``).
    paths = {s: baseline_path(args, specs, s) for s in matrix.scenarios}
    gated = {
        p: [s for s in matrix.scenarios if paths[s] == p] for p in dict.fromkeys(paths.values())
    }
    read = {p: _read_baseline(p, args.update_baseline) for p in gated}
    expected = {k: v for found, _ in read.values() for k, v in (found or {}).items()} or None
    began = time.monotonic()
    results, found = await run_matrix(
        matrix, server.variant_specs, settings, progress, expected=expected, app=app,
        server=server,
    )  # fmt: skip
    wall = time.monotonic() - began
    run = {
        "variants": [] if app else specs,
        **({"app": app_record(app)} if app else {}),
        "versions": {**versions(), **found},
        "settings": {
            "hold_window_s": settings.hold_window,
            "head_window_s": settings.head_window,
            "deadline_s": settings.deadline,
            "jobs": settings.jobs,
            "script": args.script,
            "think_s": settings.think,
            "scenarios": list(matrix.scenarios),
        },
        "wall_s": round(wall, 3),
        "skipped": {**skipped, **skipped_variants},  # clients, variants not run, and why
    }
    data = index(results, run, began)
    write_index(args.results / "index.json", data)
    write_reports(args.results, data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.results / "index.json", args.json)
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.results / "report.html", args.html)
    print(matrix_table(results))
    print(
        f"{summary(results)} in {wall:.1f} s; results in {args.results}/ "
        "(index.json, matrix.md, junit.xml, report.html)"
    )
    codes = [
        gate(args, path, *read[path], [r for r in results if r.cell.scenario in scenarios],
             skipped, skipped_variants)
        for path, scenarios in gated.items()
    ]  # fmt: skip
    return max(codes)


def app_record(app: App) -> dict[str, Any]:
    """What index.json says of the app under test."""
    return {
        "name": app.name,
        "command": app.command,
        "endpoint": app.endpoint,
        "body": app.body if app.method == "POST" else None,
        "codec": app.codec,
        "log": str(app.log),
    }


def baseline_path(
    args: argparse.Namespace, specs: Sequence[str], scenario: str = "stream"
) -> Path | None:
    """The baseline a scenario's cells are gated against, if any: ``compat-baseline.json``
    for the stream scenario of the default script, else ``compat-<script>-<scenario>-
    baseline.json`` without the parts that are the default."""
    given: Path | None = args.baseline
    if given or list(specs) != [BUILTIN] or getattr(args, "app", None):
        return given
    script = getattr(args, "script", "default")
    parts = [p for p in (script, scenario) if p not in ("default", "stream")]
    return Path(f"compat-{'-'.join(parts)}-baseline.json") if parts else DEFAULT_BASELINE


def _read_baseline(path: Path | None, replacing: bool) -> tuple[dict[str, str] | None, str]:
    """The baseline's verdicts (None: there is none, or it is being replaced), and why it
    could not be read. Read once: the runner schedules by it, the gate compares with it."""
    if path is None or replacing or not path.exists():
        return None, ""
    try:
        return baseline.load(path), ""
    except ValueError as exc:
        return None, str(exc)  # reported by the gate, after the run


def _kept_cells(path: Path) -> dict[str, str] | None:
    """The verdicts of an existing, readable baseline (a malformed one is replaced)."""
    try:
        return baseline.load(path) if path.exists() else None
    except ValueError:
        return None


def _cell_of(key: str) -> Cell | None:
    try:
        return Cell.from_key(key)
    except ValueError:
        return None  # not a cell's key: the comparison reports it as missing


def gate(
    args: argparse.Namespace,
    path: Path | None,
    expected: dict[str, str] | None,
    unreadable: str,
    results: Sequence[Result],
    skipped: dict[str, str],
    skipped_variants: Mapping[str, str] | None = None,
) -> int:
    if path is None:
        print("no baseline given (--baseline FILE); verdicts not gated")
        return 0
    if args.update_baseline:
        # A restricted run (--variant, --clients, --network) updates its own cells and
        # keeps the others; a full run writes what it ran.
        keep = _kept_cells(path) if (args.variant or args.clients or args.network) else None
        baseline.save(path, results, keep)
        print(f"baseline written: {path} ({len(results)} cells updated)")
        return 0
    if unreadable:
        raise UsageError(unreadable)
    if expected is None:
        print(f"no baseline at {path}; write one with --update-baseline")
        return 0
    partial = bool(args.variant or args.clients or args.network)
    # A client or variant this environment cannot run is not a regression of the code
    # under test.
    expected = {
        k: v
        for k, v in expected.items()
        if (cell := _cell_of(k)) is None
        or (cell.client not in skipped and cell.variant not in (skipped_variants or {}))
    }
    found = baseline.compare(expected, results, partial=partial)
    for line in found.lines():
        print(line)
    if found.failed(args.strict):
        print(f"gate: FAILED against {path}")
        return 1
    print(
        f"gate: ok against {path}"
        + (" (improvements: update the baseline)" if found.improvements else "")
    )
    return 0


async def spec_command(args: argparse.Namespace) -> int:
    chosen = differential.sse_clients(select_clients(_split(args.clients)))
    skipped = unavailable(chosen)
    for name, why in skipped.items():
        print(f"streamcompat: skipping {name}: {why}", file=sys.stderr)
    clients = [c for c in chosen if c.name not in skipped]
    networks = select_networks(_split(args.network))
    print(
        f"streamcompat spec: {len(CASES)} corpus cases × {len(clients)} "
        f"SSE-parsing clients × {len(networks)} networks",
        file=sys.stderr,
    )
    outcomes = await differential.run_corpus(clients, networks, args.jobs)
    args.results.mkdir(parents=True, exist_ok=True)
    report = differential.table(outcomes)
    (args.results / "differential.md").write_text(report, encoding="utf-8")
    data = json.dumps(differential.as_json(outcomes), indent=2, ensure_ascii=False)
    (args.results / "differential.json").write_text(data + "\n", encoding="utf-8")
    print(report)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write("## Spec differential\n\n" + report + "\n")
    run_index = args.results / "index.json"
    if run_index.exists():  # put the differential into the run's report.html too
        write_reports(args.results, json.loads(run_index.read_text(encoding="utf-8")))
    deviations = sum(o.deviates for o in outcomes)
    print(
        f"{deviations} deviations in {len(outcomes)} runs; "
        f"{args.results}/differential.md, differential.json"
    )
    return 0


class Incidents:
    """Exceptions nobody handled — asyncio's "exception was never retrieved", errors in
    ``__del__``, a bug of the harness — kept for a bug report instead of printed as
    tracebacks among the verdicts."""

    FILE = "harness-errors.log"

    def __init__(self) -> None:
        self.records: list[str] = []

    def on_loop(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        self.records.append(f"{context.get('message', 'asyncio')}\n{trace}")

    def on_unraisable(self, unraisable: Any) -> None:
        exc = unraisable.exc_value
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        said = unraisable.err_msg or "Exception ignored in"
        self.records.append(f"{said}: {unraisable.object!r}\n{trace}")

    def on_crash(self, exc: BaseException) -> None:
        self.records.append("".join(traceback.format_exception(exc)))

    def report(self, folder: Path) -> None:
        """Write what was kept to ``folder`` and say so in one line, if anything was."""
        if not self.records:
            return
        path = folder / self.FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(self.records), encoding="utf-8")
        except OSError as exc:
            where = f"not written ({exc})"
        else:
            where = f"written to {path}"
        print(
            f"streamcompat: {len(self.records)} internal error(s) of the harness, not of the "
            f"code under test; their tracebacks were {where} (please report them)",
            file=sys.stderr,
        )


INCIDENTS = Incidents()


async def _main(args: argparse.Namespace) -> int:
    # Ctrl-C and SIGTERM cancel the run, so every `finally` ends what the run started.
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(INCIDENTS.on_loop)
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _interrupt, task, sig)
    if args.command == "spec":
        return await spec_command(args)
    return await run_command(args)


_received: list[signal.Signals] = []


def _subcommand(top: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise LookupError(name)


def _interrupt(task: asyncio.Task[int], sig: signal.Signals) -> None:
    _received.append(sig)
    task.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    if argv[:1] == ["run"]:
        try:
            found = config.apply(_subcommand(top, "run"), argv[1:], Path.cwd())
        except (config.ConfigError, OSError) as exc:
            print(f"streamcompat: {exc}", file=sys.stderr)
            return 2
        if found:
            print(f"streamcompat: options from {found} [tool.streamcompat]", file=sys.stderr)
    args = top.parse_args(argv)
    hook, sys.unraisablehook = sys.unraisablehook, INCIDENTS.on_unraisable
    try:
        if args.command == "list":
            return list_command(args)
        if args.command == "setup":
            return setup_command()
        return asyncio.run(_main(args))
    except (UsageError, PluginError, ServerError) as exc:
        print(f"streamcompat: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path given that cannot be read or written, a missing program
        print(f"streamcompat: {exc}", file=sys.stderr)
        return 2
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("streamcompat: interrupted; servers and browsers were ended", file=sys.stderr)
        return 128 + int(_received[0] if _received else signal.SIGINT)
    except Exception as exc:  # a bug of the harness: one line here, the traceback in a file
        INCIDENTS.on_crash(exc)
        print(f"streamcompat: the harness failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.unraisablehook = hook
        INCIDENTS.report(getattr(args, "results", Path("results")))


if __name__ == "__main__":
    sys.exit(main())
