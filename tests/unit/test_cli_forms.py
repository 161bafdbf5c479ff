"""Every list-valued flag in every form argparse takes — ``--flag a,b``, ``--flag=a,b``,
repeated, mixed — selects the same cells, wherever argv is parsed: ``streamcompat run``
and ``spec``, the fixture's arguments, and what ``nox -s bench``/``stress`` pass on."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from streamcompat.harness import cli
from streamcompat.harness.front import config
from streamcompat.harness.front.selection import Request, names
from tools.bench import split_args, tool_parser

PLUGIN = "examples.sse_starlette_plugin"
#: Each list flag of `streamcompat run`, two of its values, and what the run selects from a
#: request naming them (the variants' specs: the list itself).
LIST_FLAGS: dict[str, tuple[str, str, Callable[[argparse.Namespace], list[str]]]] = {
    "--variants": ("builtin", f"{PLUGIN}:VARIANTS", lambda a: names(a.variants)),
    "--variant": ("sse", "raw", lambda a: [v.name for v in cli.request_of(a).select_variants()]),
    "--clients": ("curl", "httpx", lambda a: [c.name for c in cli.request_of(a).select_clients()]),
    "--network": ("split", "direct", lambda a: list(cli.request_of(a).select_networks())),
    "--scenario": ("error", "abort", lambda a: list(cli.request_of(a).select_scenarios())),
    "--server": ("hypercorn", "granian", lambda a: list(cli.request_of(a).select_servers())),
}  # fmt: skip

#: (form, the argv of values a and b): each gives both values, in this order.
FORMS: list[tuple[str, Callable[[str, str, str], list[str]]]] = [
    ("--flag a,b", lambda f, a, b: [f, f"{a},{b}"]),
    ("--flag=a,b", lambda f, a, b: [f"{f}={a},{b}"]),
    ("--flag a --flag b", lambda f, a, b: [f, a, f, b]),
    ("--flag=a --flag=b", lambda f, a, b: [f"{f}={a}", f"{f}={b}"]),
    ("--flag=a --flag b", lambda f, a, b: [f"{f}={a}", f, b]),
    ("--flag a --flag=b", lambda f, a, b: [f, a, f"{f}={b}"]),
    ("--flag 'a, b,'", lambda f, a, b: [f, f" {a}, {b},"]),
]


def parse(directory: Path, argv: list[str], command: str = "run") -> argparse.Namespace:
    """``streamcompat COMMAND ARGV`` as ``main`` parses it (the file's options: run only)."""
    top = cli.parser()
    if command == "run":
        config.apply(cli._subcommand(top, "run"), argv, directory)
    return top.parse_args([command, *argv])


def test_the_table_holds_every_list_flag_of_run() -> None:
    run = cli._subcommand(cli.parser(), "run")
    appended = {a.option_strings[0] for a in run._actions if isinstance(a, argparse._AppendAction)}
    assert appended == set(LIST_FLAGS)


@pytest.fixture
def examples_importable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.support import ROOT

    monkeypatch.syspath_prepend(str(ROOT))  # examples/ as a user's package
    monkeypatch.chdir(tmp_path)  # no [tool.streamcompat] of the checkout


@pytest.mark.usefixtures("examples_importable")
@pytest.mark.parametrize("form", [f for f, _ in FORMS])
@pytest.mark.parametrize("flag", sorted(LIST_FLAGS))
def test_every_form_of_a_list_flag_selects_the_same(tmp_path: Path, flag: str, form: str) -> None:
    a, b, selected = LIST_FLAGS[flag]
    reference = selected(parse(tmp_path, [flag, a, flag, b]))
    assert len(reference) == 2  # both values, in the run's order
    assert selected(parse(tmp_path, dict(FORMS)[form](flag, a, b))) == reference


@pytest.mark.usefixtures("examples_importable")
@pytest.mark.parametrize("form", [f for f, _ in FORMS])
@pytest.mark.parametrize("flag", sorted(LIST_FLAGS))
def test_every_form_of_a_list_flag_replaces_the_files_list(
    tmp_path: Path, flag: str, form: str
) -> None:
    a, b, selected = LIST_FLAGS[flag]
    reference = selected(parse(tmp_path, [flag, a, flag, b]))
    in_file = {"--variants": "builtin", "--variant": "openai", "--clients": "node",
               "--network": "coalesce", "--scenario": "stream",
               "--server": "daphne"}[flag]  # fmt: skip
    (tmp_path / "pyproject.toml").write_text(f'[tool.streamcompat]\n{flag[2:]} = "{in_file}"\n')
    assert selected(parse(tmp_path, [])) != reference  # the file's own
    assert selected(parse(tmp_path, dict(FORMS)[form](flag, a, b))) == reference


@pytest.mark.parametrize(
    ("argv", "selected"),
    [
        (["--clients=curl,httpx", "--client", "curl"], ["httpx", "curl"]),  # CLIENTS' order
        (["--network=split,direct", "--net=split"], ["split", "direct"]),
        (["--scenario", "error,abort", "--scenario=error", "--scen", "abort"], ["error", "abort"]),
        (["--variant=sse,raw", "--variant", "sse"], ["raw", "sse"]),  # the specs' order
    ],
)
def test_a_name_given_twice_selects_its_cells_once(
    tmp_path: Path, argv: list[str], selected: list[str]
) -> None:
    request = cli.request_of(parse(tmp_path, argv))
    found = {
        "--c": lambda: [c.name for c in request.select_clients()],
        "--n": lambda: list(request.select_networks()),
        "--s": lambda: list(request.select_scenarios()),
        "--v": lambda: [v.name for v in request.select_variants()],
    }[argv[0][:3]]()
    assert found == selected


@pytest.mark.parametrize("form", [f for f, _ in FORMS])
@pytest.mark.parametrize(
    ("flag", "a", "b", "wanted"),
    [
        ("--clients", "httpx-sse", "requests-sseclient", ["httpx-sse", "requests-sseclient"]),
        ("--network", "split", "direct", ["split", "direct"]),
    ],
)
def test_spec_takes_its_list_flags_in_every_form_too(
    tmp_path: Path, form: str, flag: str, a: str, b: str, wanted: list[str]
) -> None:
    args = parse(tmp_path, dict(FORMS)[form](flag, a, b), command="spec")
    given = names(args.clients if flag == "--clients" else args.network)
    assert list(dict.fromkeys(given)) == wanted


@pytest.mark.parametrize(
    ("fixture", "argv"),
    [
        ({"clients": "curl,httpx"}, ["--clients", "curl,httpx"]),
        ({"clients": ["curl", "httpx"]}, ["--clients", "curl", "--clients", "httpx"]),
        ({"clients": ["curl,httpx", "python"]}, ["--clients=curl,httpx", "--clients=python"]),
        ({"clients": " curl , httpx, "}, ["--clients", "curl, httpx"]),
        ({"networks": "direct,real"}, ["--network=direct,real"]),
        ({"networks": ["nginx:site.conf"]}, ["--network", "nginx:site.conf"]),
        ({"variants": "sse,raw"}, ["--variant=sse", "--variant", "raw"]),  # only= / --variant
        ({"clients": ()}, []),
        ({"clients": ""}, ["--clients="]),  # nothing named: the default, in both
    ],
)
def test_the_fixtures_names_ask_what_the_flags_ask(
    tmp_path: Path, fixture: dict[str, str | list[str]], argv: list[str]
) -> None:
    """``streamcompat_run(clients=..., networks=..., only=...)`` builds its request with
    ``Request.of``; the CLI with ``request_of``: the same request, the same cells."""
    assert Request.of(**fixture) == cli.request_of(parse(tmp_path, argv))


def test_the_fixture_splits_its_variants_as_the_cli_does() -> None:
    from streamcompat.harness.pytest_plugin import _names

    assert _names("builtin, mypkg:VARIANTS") == names(["builtin", "mypkg:VARIANTS"])
    assert _names(["builtin", "a:X,b:Y"]) == ["builtin", "a:X", "b:Y"]


# bench and stress: their own options, and the rest for `streamcompat run`, as given.


@pytest.mark.parametrize(
    ("argv", "runs", "period", "rest"),
    [
        ([], 3, 50.0, []),
        (["--runs", "2"], 2, 50.0, []),
        (["--runs=2", "--period-ms=25"], 2, 25.0, []),
        (["--clients=curl,httpx", "--runs", "2"], 2, 50.0, ["--clients=curl,httpx"]),
        (["--clients", "curl,httpx", "--runs=2", "--network", "direct"], 2, 50.0,
         ["--clients", "curl,httpx", "--network", "direct"]),
        (["--clients=curl", "--clients", "httpx"], 3, 50.0,
         ["--clients=curl", "--clients", "httpx"]),
        # After --, everything is the run's, even an option of the tool's name.
        (["--runs", "4", "--", "--runs=9", "--clients", "curl"], 4, 50.0,
         ["--runs=9", "--clients", "curl"]),
        (["--clients=curl", "--", "--network=direct"], 3, 50.0,
         ["--clients=curl", "--network=direct"]),
        # No abbreviations: a prefix of the tool's option goes to the run as it was.
        (["--run", "2"], 3, 50.0, ["--run", "2"]),
        (["--period", "5"], 3, 50.0, ["--period", "5"]),
    ],
)  # fmt: skip
def test_bench_keeps_its_options_and_passes_the_rest_on_unchanged(
    argv: list[str], runs: int, period: float, rest: list[str]
) -> None:
    parser = tool_parser("bench", runs=3)
    parser.add_argument("--period-ms", type=float, default=50.0)
    own, passed = split_args(parser, argv)
    assert (own.runs, own.period_ms, passed) == (runs, period, rest)


@pytest.mark.parametrize(
    "argv",
    [
        ["--runs", "2", "--clients=curl,httpx", "--network", "direct", "--variant=sse,raw"],
        ["--clients", "curl", "--runs=2", "--clients=httpx", "--", "--network=direct"],
    ],
)
def test_what_bench_passes_on_selects_what_the_run_would_have(
    tmp_path: Path, argv: list[str]
) -> None:
    _, passed = split_args(tool_parser("bench", runs=3), argv)
    direct = [a for a in argv if a not in ("--runs", "2", "--runs=2", "--")]
    assert cli.request_of(parse(tmp_path, passed)) == cli.request_of(parse(tmp_path, direct))
