"""The ``streamcompat`` command: ``list`` what can run, ``run`` the matrix and gate it,
``spec`` the differential of SSE-parsing clients against the spec corpus.

Exit codes: 0 every cell matches the baseline (or no baseline), 1 a regression (a cell
worse than its baseline verdict, or gone), 2 usage or set-up error (a variant server that
died and could not be restarted too), 130/143 interrupted by SIGINT/SIGTERM (after ending
every server and browser of the run). No traceback reaches the console: an exception
nobody handled is written to ``harness-errors.log`` in the results folder, and one line
says so.

The flags and the printing are here; what they mean (selection, availability, settings,
the run record, the gate's rules) is ``harness.front``'s, shared with the pytest plugin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from streamcompat.harness.engine import differential
from streamcompat.harness.engine.app import App
from streamcompat.harness.engine.networks import speaks_tls
from streamcompat.harness.engine.plan import Matrix, Settings
from streamcompat.harness.engine.runner import run_matrix
from streamcompat.harness.engine.schedule import default_jobs
from streamcompat.harness.engine.server import ServerError, ServerProcess
from streamcompat.harness.front import config, selection
from streamcompat.harness.front import gate as rules
from streamcompat.harness.front.availability import Skipped, available, unavailable
from streamcompat.harness.front.incidents import Incidents
from streamcompat.harness.front.listing import list_command
from streamcompat.harness.front.record import run_record, write_differential, write_results
from streamcompat.harness.front.selection import Request, UsageError
from streamcompat.harness.front.settings import settings_of
from streamcompat.harness.front.setup import SETUP_PARTS, setup_command
from streamcompat.harness.hosts.tls import Authority, authority
from streamcompat.harness.kernel.codecs import KNOWN as KNOWN_CODECS
from streamcompat.harness.kernel.model import Result
from streamcompat.harness.kernel.networks import network
from streamcompat.harness.kernel.scenarios import DEFAULT_SCENARIOS, SCENARIOS
from streamcompat.harness.kernel.tokens import HOLD_WINDOWS, SCRIPTS, THINK_S
from streamcompat.harness.outputs.results import matrix_table, progress_line, summary
from streamcompat.harness.spec.sse_corpus import CASES
from streamcompat.servers.plugins import BUILTIN, PluginError

__all__ = ["UsageError", "main", "parser", "unavailable"]


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
    setup = commands.add_parser(
        "setup",
        help="install the clients' npm packages (per user), find or install a Chromium, "
        "and install the real proxies (as root, with apt)",
    )
    setup.add_argument(
        "parts", nargs="*", metavar="PART",
        help=f"only these: {', '.join(SETUP_PARTS)} (default: all)",
    )  # fmt: skip
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
    networks = ", ".join(selection.NETWORK_DESCRIPTIONS)
    for flag, metavar, says in (
        ("--variant", "NAME", "run only these variants (repeatable, comma-separated)"),
        ("--clients", "NAMES", "client names or groups (python, browser, node, cli), "
         "comma-separated"),
        ("--network", "NAMES", f"networks, comma-separated, 'real' (the real proxies) or "
         f"'all': {networks}; KIND:FILE runs a real proxy on your config, with @LISTEN@ and "
         f"@UPSTREAM@ in it (default: {', '.join(selection.DEFAULT_NETWORKS)})"),
        ("--server", "NAMES", selection.SERVER_HELP),
        ("--scenario", "NAMES", f"scenarios, comma-separated, or 'all': {', '.join(SCENARIOS)} "
         f"(default: {', '.join(DEFAULT_SCENARIOS)}); scenarios other than stream run on the "
         "direct network unless --network says otherwise, each gated against its own baseline"),
    ):  # fmt: skip
        run.add_argument(flag, action="append", default=[], metavar=metavar, help=says)
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
    for flag, default, says in (
        ("--hold-window", None, "how long a token may take to surface before it counts as "
         f"held back (default: {Settings.hold_window:g}; --script limits: "
         f"{HOLD_WINDOWS['limits']:g})"),
        ("--head-window", Settings.head_window, "how long a response head may take once the "
         "request reached the server; a cell whose server sends none by then ends as TIMEOUT"),
        ("--deadline", Settings.deadline, "per-cell deadline; every cell has a verdict by then"),
    ):  # fmt: skip
        run.add_argument(flag, type=float, default=default, metavar="S", help=says)
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help=f"expected verdicts (default: {rules.DEFAULT_BASELINE} for the built-ins)",
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
    codecs = KNOWN_CODECS
    for flag, default, metavar, says in (
        ("--app", None, "COMMAND", 'e.g. "uvicorn myapp.main:app --port {port}"'),
        ("--app-name", "app", "NAME", "its cells' name"),
        ("--endpoint", App.endpoint, "'METHOD /PATH'",
         f"its streaming route (default: {App.endpoint}; a GET's query holds {{prompt}})"),
        ("--body", App.body, "JSON", f"POST body (default: {App.body})"),
        ("--codec", App.codec, None, f"how a payload maps to text: {codecs} (default: text)"),
        ("--event", App.event, None, "SSE: the event type of tokens"),
        ("--end-event", App.end_event, None, "SSE: the end's event type"),
        ("--end-data", None, None, "SSE: the end's data (e.g. [DONE])"),
    ):  # fmt: skip
        group.add_argument(flag, default=default, metavar=metavar, help=says)
    group.add_argument(
        "--app-start-timeout",
        type=float,
        default=App.start_timeout,
        metavar="S",
        help="how long the app may take to listen (default: 30)",
    )


def request_of(args: argparse.Namespace, specs: Sequence[str] = ()) -> Request:
    """The selection the flags (and the config file, their defaults) ask for."""
    return Request.of(
        specs,
        variants=getattr(args, "variant", []),
        clients=getattr(args, "clients", []),
        networks=getattr(args, "network", []),
        scenarios=getattr(args, "scenario", []),
        servers=getattr(args, "server", []),
    )


def _say_skipped(skipped: Skipped) -> None:
    for what, why in skipped.notices():
        print(f"streamcompat: skipping {what}: {why}", file=sys.stderr)


async def run_command(args: argparse.Namespace) -> int:
    specs = selection.names(args.variants) or [BUILTIN]  # comma-separated too, as the fixture
    app = selection.app_of(args)
    served = [BUILTIN] if app else specs  # app mode: the server is only the fake upstream
    # The run's CA where a network speaks TLS, made before the variant server begins (it
    # serves TLS itself on direct-tls). The server is begun now, so that its imports overlap
    # the harness's own set-up below (openai alone takes most of a second).
    networks = [network(n) for n in request_of(args, specs).select_networks()]
    with authority() if any(map(speaks_tls, networks)) else contextlib.nullcontext() as tls:
        own_tls = tls if any(n.server_tls for n in networks) else None
        server = ServerProcess(served, SCRIPTS[args.script], own_tls)
        server.begin()
        try:
            return await _run(args, specs, app, server, tls)
        finally:
            await server.stop()


async def _run(
    args: argparse.Namespace,
    specs: list[str],
    app: App | None,
    server: ServerProcess,
    tls: Authority | None = None,
) -> int:
    request = request_of(args, specs)
    chosen = request.select_clients()
    variants = [app.variant()] if app else request.select_variants()
    networks = request.select_networks()
    skipped = available(chosen, variants, networks, servers := request.select_servers())
    _say_skipped(skipped)
    matrix = Matrix(
        variants=[v for v in variants if v.name not in skipped.variants],
        clients=[c for c in chosen if c.name not in skipped.clients],
        networks=tuple(n for n in networks if n not in skipped.networks),
        scenarios=request.select_scenarios(),
        scenario_networks=request.scenario_networks(),
        servers=tuple(s for s in servers if s not in skipped.servers),
    )
    settings = settings_of(
        script=args.script,
        hold_window=args.hold_window,
        head_window=args.head_window,
        deadline=args.deadline,
        jobs=args.jobs,
        spelled=lambda name: "--" + name.replace("_", "-"),
    )
    print(f"streamcompat: {selection.cells_line(matrix)}", file=sys.stderr)

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
        server=server, tls=tls,
    )  # fmt: skip
    wall = time.monotonic() - began
    run = run_record(
        specs=specs, settings=settings, script=args.script, scenarios=matrix.scenarios,
        found=found, wall_s=wall, skipped=skipped.reasons, app=app,
        clients=matrix.clients, variants=matrix.variants,
    )  # fmt: skip
    write_results(args.results, results, run, began)
    for copy, name in ((args.json, "index.json"), (args.html, "report.html")):
        if copy:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.results / name, copy)
    print(matrix_table(results, run))
    print(
        f"{summary(results)} in {wall:.1f} s; results in {args.results}/ "
        "(index.json, matrix.md, junit.xml, report.html)"
    )
    codes = [
        gate(args, path, *read[path], [r for r in results if r.cell.scenario in scenarios],
             skipped.clients, skipped.variants, scenarios, skipped.networks, skipped.servers)
        for path, scenarios in gated.items()
    ]  # fmt: skip
    return max(codes)


def baseline_path(
    args: argparse.Namespace, specs: Sequence[str], scenario: str = "stream"
) -> Path | None:
    """The baseline a scenario's cells are gated against (``gate.baseline_path``)."""
    return rules.baseline_path(
        args.baseline,
        specs,
        app=bool(getattr(args, "app", None)),
        script=getattr(args, "script", "default"),
        scenario=scenario,
    )


_read_baseline = rules.read_baseline


def gate(
    args: argparse.Namespace,
    path: Path | None,
    expected: dict[str, str] | None,
    unreadable: str,
    results: Sequence[Result],
    skipped: Mapping[str, str],
    skipped_variants: Mapping[str, str] | None = None,
    scenarios: Sequence[str] | None = None,
    skipped_networks: Mapping[str, str] | None = None,
    skipped_servers: Mapping[str, str] | None = None,
) -> int:
    """Judge ``results`` against the baseline at ``path`` by ``harness.front.gate``'s rules
    (``scenarios``: those gated against it; default: the run's), saying what it found."""
    if path is None:
        print("no baseline given (--baseline FILE); verdicts not gated")
        return 0
    request = request_of(args)
    scenarios = request.select_scenarios() if scenarios is None else scenarios
    old = rules.kept_cells(path) if args.update_baseline else (expected or {})
    unrunnable = (skipped, skipped_variants, skipped_networks, skipped_servers)
    judge = rules.Gate(
        partial=rules.partial(request, scenarios, old),
        strict=args.strict,
        skipped=Skipped(*(names or {} for names in unrunnable)),
    )
    if args.update_baseline:
        judge.update(path, old, results)
        print(f"baseline written: {path} ({len(results)} cells updated)")
        return 0
    if unreadable:
        raise UsageError(unreadable)
    if expected is None:
        print(f"no baseline at {path}; write one with --update-baseline")
        return 0
    found = judge.compare(expected, results)
    for line in found.lines():
        print(line)
    if judge.failed(found):
        print(f"gate: FAILED against {path}")
        return 1
    print(
        f"gate: ok against {path}"
        + (" (improvements: update the baseline)" if found.improvements else "")
    )
    return 0


async def spec_command(args: argparse.Namespace) -> int:
    chosen = differential.sse_clients(selection.select_clients(selection.names(args.clients)))
    skipped = unavailable(chosen)
    _say_skipped(Skipped(skipped))
    clients = [c for c in chosen if c.name not in skipped]
    networks = selection.select_networks(selection.names(args.network))
    print(
        f"streamcompat spec: {len(CASES)} corpus cases × {len(clients)} "
        f"SSE-parsing clients × {len(networks)} networks",
        file=sys.stderr,
    )
    outcomes = await differential.run_corpus(clients, networks, args.jobs)
    report = write_differential(args.results, outcomes)
    print(report)
    deviations = sum(o.deviates for o in outcomes)
    print(
        f"{deviations} deviations in {len(outcomes)} runs; "
        f"{args.results}/differential.md, differential.json"
    )
    return 0


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
            return setup_command(args.parts)
        return asyncio.run(_main(args))
    # OSError: a path given that cannot be read or written, a missing program.
    except (UsageError, PluginError, ServerError, OSError) as exc:
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
