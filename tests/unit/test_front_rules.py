"""The front ends' core, rule by rule and branch by branch: what can run here
(``availability``), the gate's helpers (``gate``), what a request selects
(``selection``), a run's settings, the run record, the incidents log, and the pytest
plugin's gate, which must say what the CLI's says."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from streamcompat.harness.engine.app import App
from streamcompat.harness.engine.differential import Outcome
from streamcompat.harness.engine.plan import Matrix, Settings
from streamcompat.harness.front import availability, record, selection
from streamcompat.harness.front import gate as rules
from streamcompat.harness.front.availability import EXTRAS_HINT, Skipped
from streamcompat.harness.front.incidents import Incidents
from streamcompat.harness.front.selection import Request, UsageError
from streamcompat.harness.front.settings import settings_of
from streamcompat.harness.hosts.proxies import ProxyKind
from streamcompat.harness.kernel.model import Cell, Client, Facts, Result, Variant, Verdict
from streamcompat.harness.kernel.networks import NETWORKS
from streamcompat.harness.kernel.scenarios import SCENARIOS
from streamcompat.harness.kernel.tokens import SCRIPTS, THINK_S
from streamcompat.harness.outputs import baseline
from streamcompat.harness.pytest_plugin import CompatRun
from streamcompat.harness.spec.sse_corpus import CASES


def result(key: str, verdict: str = "PASS") -> Result:
    return Result(Cell.from_key(key), Verdict(verdict), "why", None, None, None, 1.0, Facts([]))


async def never(*args: object) -> None:
    raise AssertionError("a client that cannot run here must not run")


# What can run here.

EVERYTHING = Skipped(
    clients={"curl": "curl not installed"},
    variants={"sse-starlette": "sse_starlette not installed"},
    networks={"nginx": "nginx not installed"},
)


@pytest.mark.parametrize(
    ("key", "covered"),
    [
        ("sse × curl × direct", True),
        ("sse × curl × direct × abort", True),
        ("sse-starlette × httpx × split", True),
        ("raw × httpx × nginx", True),
        ("raw × httpx × nginx × error", True),
        ("raw × httpx × direct", False),
        ("raw × curly × direct", False),  # a name, not a prefix
        ("not a cell's key", False),
        ("sse × curl × direct × stream", False),  # no key: stream is never written
    ],
)
def test_a_skipped_client_variant_or_network_covers_its_cells(key: str, covered: bool) -> None:
    assert EVERYTHING.covers(key) is covered


def test_what_is_skipped_is_said_and_recorded_by_name() -> None:
    assert EVERYTHING.notices() == [
        ("curl", "curl not installed"),
        ("variant sse-starlette", "sse_starlette not installed"),
        ("network nginx", "nginx not installed"),
    ]
    assert EVERYTHING.reasons == {
        "curl": "curl not installed",
        "sse-starlette": "sse_starlette not installed",
        "nginx": "nginx not installed",
    }
    assert Skipped().notices() == [] and Skipped().reasons == {}


def test_a_real_proxy_whose_binary_is_missing_is_skipped_naming_its_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    present = {"caddy": "/usr/bin/caddy", "haproxy": "/usr/sbin/haproxy"}
    monkeypatch.setattr(ProxyKind, "binary", lambda kind: present.get(kind.name))
    wanted = ["direct", "split", "nginx", "nginx-gzip", "nginx:site.conf", "caddy", "apache"]
    missing = availability.networks_unavailable(wanted)
    assert list(missing) == ["nginx", "nginx-gzip", "nginx:site.conf", "apache"]
    assert missing["nginx:site.conf"] == (
        "nginx not installed (`apt-get install nginx` on Debian/Ubuntu, or `streamcompat setup`)"
    )
    assert missing["apache"].startswith("apache2 not installed (`apt-get install apache2-bin`")


@pytest.mark.parametrize(
    ("client", "why"),
    [
        (Client("gone", "chunk", never, requires=("streamcompat-no-such-program",)),
         "streamcompat-no-such-program not installed"),
        (Client("gone", "chunk", never, requires=(sys.executable, "sc-nope-1", "sc-nope-2")),
         "sc-nope-1, sc-nope-2 not installed"),
        (Client("gone", "event", never, modules=("streamcompat_no_such_module",)),
         f"streamcompat_no_such_module not installed ({EXTRAS_HINT})"),
        (Client("gone", "event", never, modules=("json", "streamcompat_nope.sse")),
         f"streamcompat_nope.sse not installed ({EXTRAS_HINT})"),
        # A missing program is said first: the extra is no use without it.
        (Client("gone", "event", never, requires=("sc-nope",), modules=("sc_nope",)),
         "sc-nope not installed"),
        (Client("here", "chunk", never, requires=(sys.executable,), modules=("json",)), None),
    ],
)  # fmt: skip
def test_a_client_lacking_a_program_or_an_extra_is_skipped_saying_which(
    client: Client, why: str | None
) -> None:
    assert availability.unavailable([client]) == ({} if why is None else {client.name: why})


@pytest.fixture
def npm(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The npm packages not installed yet; ``install`` records that it ran."""
    from streamcompat.clients import npm as packages

    installs: list[str] = []
    monkeypatch.setattr(packages, "installed", lambda: None)

    def install() -> Path:
        installs.append("install")
        if installs[0] == "fail":
            raise packages.SetupFailed("npm is not installed")
        return Path("/nowhere")

    monkeypatch.setattr(packages, "install", install)
    return installs


def test_npm_packages_are_installed_once_on_first_use_saying_so(
    npm: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    clients = [Client(f"js-{k}", "chunk", never, npm=True) for k in range(2)]
    assert availability.unavailable([*clients, Client("py", "chunk", never)]) == {}
    assert npm == ["install"]
    assert "installing the clients' npm packages into" in capsys.readouterr().err


def test_npm_packages_that_cannot_be_installed_skip_their_clients(npm: list[str]) -> None:
    npm.append("fail")
    clients = [
        Client("js", "chunk", never, npm=True),
        Client("js-without-node", "chunk", never, npm=True, requires=("sc-no-node",)),
        Client("py", "chunk", never),
    ]
    assert availability.unavailable(clients) == {
        "js": "npm packages not installed (npm is not installed)",
        "js-without-node": "sc-no-node not installed",  # not the npm reason: node is missing
    }


def test_no_npm_client_means_no_npm_install(npm: list[str]) -> None:
    assert availability.unavailable([Client("py", "chunk", never)]) == {}
    assert availability.unavailable([Client("js", "chunk", never, npm=True, requires=("sc-x",))])
    assert npm == []


def test_a_variant_lacking_its_library_is_skipped_and_available_says_all_three(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ProxyKind, "binary", lambda kind: None)
    lacking = Variant("needs-lib", lambda tokens: None, modules=("streamcompat_nope",))
    plain = Variant("plain", lambda tokens: None)
    found = availability.available([], [lacking, plain], ["direct", "haproxy"])
    assert found.variants == {"needs-lib": f"streamcompat_nope not installed ({EXTRAS_HINT})"}
    assert list(found.networks) == ["haproxy"] and found.clients == {}


@pytest.mark.parametrize(
    ("modules", "lacking"),
    [
        ((), []),
        (("json", "json.decoder"), []),
        (("json.no_such_sub",), ["json.no_such_sub"]),
        (("sc_no_pkg", "sc_no_pkg.sub", "json"), ["sc_no_pkg", "sc_no_pkg.sub"]),
    ],
)
def test_lacking_names_what_cannot_be_imported_dotted_names_too(
    modules: tuple[str, ...], lacking: list[str]
) -> None:
    assert availability.lacking(modules) == lacking


# The gate's helpers.


def test_read_baseline_says_none_when_there_is_none_to_read(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    baseline.write(good, {"sse × curl × direct": "PASS"})
    bad.write_text("[]", encoding="utf-8")
    assert rules.read_baseline(None, replacing=False) == (None, "")
    assert rules.read_baseline(tmp_path / "absent.json", replacing=False) == (None, "")
    assert rules.read_baseline(good, replacing=True) == (None, "")  # being replaced
    assert rules.read_baseline(bad, replacing=True) == (None, "")
    assert rules.read_baseline(good, replacing=False) == ({"sse × curl × direct": "PASS"}, "")
    found, why = rules.read_baseline(bad, replacing=False)
    assert found is None and why == f"{bad}: not a streamcompat baseline (no 'cells' object)"


def test_kept_cells_are_none_of_a_baseline_that_cannot_be_read(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    baseline.write(good, {"sse × curl × direct": "PASS"})
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    (tmp_path / "folder.json").mkdir()
    assert rules.kept_cells(good) == {"sse × curl × direct": "PASS"}
    for unusable in ("absent.json", "bad.json", "folder.json"):
        assert rules.kept_cells(tmp_path / unusable) == {}


def test_expected_verdicts_are_a_file_or_given_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.write(path, {"a × b × c": "PASS"})
    assert rules.verdicts_of(path) == {"a × b × c": "PASS"}
    from types import MappingProxyType

    given = MappingProxyType({"a × b × c": "PASS"})
    assert rules.verdicts_of(given) == {"a × b × c": "PASS"}


@pytest.mark.parametrize(
    ("scenarios", "held", "leaves_out"),
    [
        (("stream",), ["a × b × c"], False),
        (("stream",), ["a × b × c", "a × b × c × abort"], True),
        (("abort",), ["a × b × c × abort"], False),
        (("abort",), ["a × b × c × abort", "a × b × c × error"], True),
        (("abort", "error"), ["a × b × c × abort", "a × b × c × error"], False),
        (("abort",), ["a × b × c"], True),
        (("stream",), ["not a key"], False),  # the comparison reports it missing instead
        (("stream",), [], False),
    ],
)
def test_a_run_leaves_out_the_scenarios_a_baseline_holds_and_it_does_not_run(
    scenarios: tuple[str, ...], held: list[str], leaves_out: bool
) -> None:
    assert rules.leaves_out_scenarios(scenarios, held) is leaves_out
    assert rules.partial(Request.of(), scenarios, held) is leaves_out
    assert rules.partial(Request.of(clients="curl"), scenarios, held) is True


def test_a_gate_on_a_skipped_network_neither_compares_nor_drops_its_cells(tmp_path: Path) -> None:
    old = {"sse × curl × nginx": "PASS", "sse × curl × direct": "PASS", "x × y × z": "PASS"}
    gate = rules.Gate(skipped=Skipped(networks={"nginx": "nginx not installed"}))
    run = [result("sse × curl × direct")]
    assert gate.compare(old, run).missing == ["x × y × z: PASS → (cell not run)"]
    path = tmp_path / "deep" / "b.json"  # its folder is made
    assert gate.update(path, old, run) == {
        "sse × curl × nginx": "PASS",
        "sse × curl × direct": "PASS",
    }
    assert baseline.load(path) == gate.updated(old, run)


# What a request selects.


@pytest.mark.parametrize(
    ("wanted", "selected"),
    [
        ((), ("direct", "split")),
        (("split", "direct", "split"), ("split", "direct")),
        (("real",), tuple(n for n, r in NETWORKS.items() if r.origin == "proxy" and not r.tls)),
        (("direct", "real", "nginx"),
         ("direct", *(n for n, r in NETWORKS.items() if r.origin == "proxy" and not r.tls))),
        (("tls", "real"),
         (*(n for n, r in NETWORKS.items() if r.tls),
          *(n for n, r in NETWORKS.items() if r.origin == "proxy" and not r.tls))),
        (("all",), tuple(NETWORKS)),
        (("all", "nginx:site.conf"), (*NETWORKS, "nginx:site.conf")),
        (("nginx:site.conf", "caddy:site.conf"), ("nginx:site.conf", "caddy:site.conf")),
    ],
)  # fmt: skip
def test_networks_by_name_group_all_or_kind_file_once_each_in_order(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wanted: tuple[str, ...],
    selected: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site.conf").write_text("@LISTEN@ @UPSTREAM@\n")
    assert selection.select_networks(wanted) == selected


@pytest.mark.parametrize(
    ("wanted", "says"),
    [
        ("carrier-pigeon", "unknown network(s): carrier-pigeon; known: direct, split, "),
        ("nginx-gzip:site.conf", "unknown network 'nginx-gzip:site.conf': a config of your own is "
         "KIND:FILE, KIND one of nginx, caddy, haproxy, apache"),  # a preset is not a kind
        ("nginx:", "unknown network 'nginx:'"),
        ("split:site.conf", "unknown network 'split:site.conf'"),
        ("caddy:absent.conf", "network caddy:absent.conf: no such file: absent.conf"),
        ("apache:.", "network apache:.: no such file: ."),  # a folder is not a config
    ],
)  # fmt: skip
def test_a_network_that_cannot_be_is_a_usage_error_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wanted: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site.conf").write_text("@LISTEN@ @UPSTREAM@\n")
    with pytest.raises(UsageError) as refused:
        selection.select_networks([wanted])
    assert str(refused.value).startswith(says)


@pytest.mark.parametrize(
    ("wanted", "selected"),
    [
        ((), None),
        (("curl",), ["curl"]),
        (("node",), ["node-fetch", "node-eventsource", "axios", "openai-node", "ai-text", "ai-ui"]),
        (("curl", "cli", "curl"), ["curl"]),
        (("curl-h2", "cli"), ["curl", "curl-h2"]),  # by name only, in the clients' order
        (("browser", "httpx"),
         ["browser-fetch", "browser-eventsource", "httpx", "browser-fetch-sse", "browser-xhr",
          "browser-axios", "browser-axios-progress", "browser-axios-fetch",
          "browser-fetch-event-source"]),
    ],
)  # fmt: skip
def test_clients_by_name_or_group_in_the_clients_order(
    wanted: tuple[str, ...], selected: list[str] | None
) -> None:
    default_run = [c.name for c in selection.every_client() if c.by_default]
    assert [c.name for c in selection.select_clients(wanted)] == (selected or default_run)


def test_an_unknown_client_is_named_with_the_known_ones() -> None:
    with pytest.raises(UsageError) as refused:
        selection.select_clients(["curl", "netscape", "lynx"])
    known = ", ".join(c.name for c in selection.every_client())
    assert str(refused.value) == f"unknown client(s): netscape, lynx; known: {known}"


@pytest.mark.parametrize(
    ("wanted", "selected"),
    [
        ((), ("stream",)),
        (("all",), tuple(SCENARIOS)),
        (("error", "abort", "error"), ("error", "abort")),
    ],
)
def test_scenarios_by_name_or_all(wanted: tuple[str, ...], selected: tuple[str, ...]) -> None:
    assert selection.select_scenarios(wanted) == selected


@pytest.mark.parametrize(
    ("request_", "restricted", "scenario_networks"),
    [
        (Request.of(), False, ("direct",)),
        (Request.of(["mypkg:VARIANTS"]), False, ("direct",)),  # another spec is no restriction
        (Request.of(scenarios="abort"), False, ("direct",)),
        (Request.of(variants="sse"), True, ("direct",)),
        (Request.of(clients="python"), True, ("direct",)),
        (Request.of(networks="split"), True, None),  # scenarios run where networks were named
        (Request.of(networks=" , "), False, ("direct",)),  # nothing named
    ],
)
def test_which_requests_are_restricted_and_where_their_scenarios_run(
    request_: Request, restricted: bool, scenario_networks: tuple[str, ...] | None
) -> None:
    assert request_.restricted is restricted
    assert request_.scenario_networks() == scenario_networks


def test_a_request_without_specs_is_the_builtins() -> None:
    assert Request.of().specs == Request.of([]).specs == ("builtin",)
    assert Request.of(["a:B", "c:D"]).specs == ("a:B", "c:D")


def options(**given: Any) -> SimpleNamespace:
    """``streamcompat run``'s app-mode options, as parsed."""
    from streamcompat.harness import cli

    parsed = cli.parser().parse_args(["run"])
    return SimpleNamespace(**{**vars(parsed), **given})


def test_the_app_is_made_from_the_app_mode_options(tmp_path: Path) -> None:
    assert selection.app_of(options()) is None
    app = selection.app_of(options(
        app="uvicorn m:app --port {port}", app_name="mine", endpoint="GET /chat?q={prompt}",
        codec="json:token", event="token", end_event="done", end_data="[DONE]",
        app_start_timeout=3.0, results=tmp_path,
    ))  # fmt: skip
    assert app == App(
        command="uvicorn m:app --port {port}", endpoint="GET /chat?q={prompt}", body=App.body,
        codec="json:token", event="token", end_event="done", end_data="[DONE]", name="mine",
        start_timeout=3.0, log=tmp_path / "mine.log",
    )  # fmt: skip


@pytest.mark.parametrize("given", [{"variants": ["m:V"]}, {"variant": ["sse"]}])
def test_an_app_does_not_go_with_variants(given: dict[str, list[str]]) -> None:
    with pytest.raises(UsageError, match="--app gates an app; --variants/--variant do not go"):
        selection.app_of(options(app="uvicorn m:app", **given))


def test_the_cells_line_gives_each_scenario_its_networks() -> None:
    v = [Variant(n, lambda tokens: None) for n in ("a", "b")]
    c = [Client("x", "chunk", never)]
    stream = Matrix(variants=v, clients=c, networks=("direct", "split"))
    assert selection.cells_line(stream) == "4 cells (2 variants × 1 clients × 2 networks)"
    mixed = Matrix(v, c, ("direct", "split"), ("stream", "abort"), ("direct",))
    assert selection.cells_line(mixed) == (
        "6 cells (2 variants × 1 clients; stream on direct, split; abort on direct)"
    )


# A run's settings.


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_scripts_tokens_and_think_time_are_its_own(script: str) -> None:
    chosen = settings_of(script=script, jobs=3)
    assert (chosen.tokens, chosen.think, chosen.jobs) == (
        SCRIPTS[script],
        THINK_S.get(script, 0.0),
        3,
    )
    assert settings_of(script=script).jobs == Settings().jobs


@pytest.mark.parametrize("window", ["hold_window", "head_window", "deadline"])
@pytest.mark.parametrize("value", [0.0, -0.5, math.nan])
def test_a_window_not_a_positive_number_is_named_as_the_front_end_spells_it(
    window: str, value: float
) -> None:
    with pytest.raises(UsageError) as refused:
        settings_of(spelled=lambda name: f"{name}=", **{window: value})  # type: ignore[arg-type]
    assert str(refused.value) == f"{window}= must be a positive number of seconds, not {value:g}"


def test_a_window_given_is_kept_and_one_not_given_is_the_default() -> None:
    chosen = settings_of(hold_window=0.25, head_window=7.0, deadline=60.0)
    assert (chosen.hold_window, chosen.head_window, chosen.deadline) == (0.25, 7.0, 60.0)
    default = settings_of()
    assert (default.head_window, default.deadline) == (Settings().head_window, Settings().deadline)


# The run record.


@pytest.mark.parametrize(
    ("endpoint", "body"), [("POST /chat", '{"m": "{prompt}"}'), ("GET /chat?q={prompt}", None)]
)
def test_the_record_of_an_app_has_its_body_only_if_it_posts(
    tmp_path: Path, endpoint: str, body: str | None
) -> None:
    app = App(
        command="run me --port {port}",
        endpoint=endpoint,
        body='{"m": "{prompt}"}',
        log=tmp_path / "a.log",
    )
    run = record.run_record(
        specs=["builtin"], settings=Settings(jobs=2), script="think", scenarios=("stream",),
        found={"uvicorn": "9"}, wall_s=1.23456, skipped={"curl": "no"}, app=app,
    )  # fmt: skip
    assert run["variants"] == []
    assert run["app"] == {
        "name": "app", "command": "run me --port {port}", "endpoint": endpoint, "body": body,
        "codec": "text", "log": str(tmp_path / "a.log"),
    }  # fmt: skip
    assert run["versions"]["uvicorn"] == "9" and run["wall_s"] == 1.235
    assert run["settings"]["script"] == "think" and run["settings"]["jobs"] == 2
    assert run["skipped"] == {"curl": "no"}


def test_the_record_of_variants_names_their_specs_and_no_app() -> None:
    run = record.run_record(
        specs=["builtin", "m:V"], settings=Settings(), script="default",
        scenarios=("stream", "abort"), found={}, wall_s=0.0, skipped={},
    )  # fmt: skip
    assert run["variants"] == ["builtin", "m:V"] and "app" not in run
    assert run["settings"]["scenarios"] == ["stream", "abort"]


def outcomes() -> list[Outcome]:
    case = CASES[0]
    return [
        Outcome(case.name, "httpx-sse", "direct", ["a"], ["a"]),
        Outcome(case.name, "requests-sseclient", "direct", ["a"], ["b"]),
    ]


def test_the_differential_goes_to_its_files_and_the_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    table = record.write_differential(tmp_path / "results", outcomes())
    assert (tmp_path / "results" / "differential.md").read_text(encoding="utf-8") == table
    written = json.loads((tmp_path / "results" / "differential.json").read_text())
    assert [o["deviates"] for o in written["outcomes"]] == [False, True]
    assert summary.read_text(encoding="utf-8") == f"before\n## Spec differential\n\n{table}\n"
    assert not (tmp_path / "results" / "report.html").exists()  # no run's index here


def test_the_differential_joins_a_runs_report_when_one_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = record.run_record(
        specs=["builtin"], settings=Settings(), script="default", scenarios=("stream",),
        found={}, wall_s=0.0, skipped={},
    )  # fmt: skip
    record.write_results(tmp_path, [result("sse × curl × direct")], run, 0.0)
    before = (tmp_path / "report.html").read_text(encoding="utf-8")
    record.write_differential(tmp_path, outcomes())
    after = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert after != before and "requests-sseclient" in after and "requests-sseclient" not in before


# Incidents: exceptions nobody handled, kept for a bug report.


def test_incidents_keep_each_kind_with_its_traceback(tmp_path: Path) -> None:
    incidents = Incidents()
    try:
        raise ValueError("in a task")
    except ValueError as exc:
        caught = exc
    incidents.on_loop(asyncio.new_event_loop(), {"message": "Task exception was never retrieved",
                                                 "exception": caught})  # fmt: skip
    incidents.on_loop(asyncio.new_event_loop(), {})
    incidents.on_unraisable(SimpleNamespace(exc_value=caught, err_msg=None, object="obj"))
    incidents.on_unraisable(SimpleNamespace(exc_value=None, err_msg="Exception in", object=None))
    incidents.on_crash(caught)
    first, bare, unraisable, no_exc, crash = incidents.records
    assert first.startswith("Task exception was never retrieved\nTraceback")
    assert "ValueError: in a task" in first
    assert bare == "asyncio\n"
    assert unraisable.startswith("Exception ignored in: 'obj'\nTraceback")
    assert no_exc == "Exception in: None\n"
    assert crash.startswith("Traceback") and crash.endswith("ValueError: in a task\n")


def test_incidents_are_written_and_said_in_one_line_only_if_there_are_any(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incidents = Incidents()
    incidents.report(tmp_path / "results")
    assert not (tmp_path / "results").exists() and capsys.readouterr().err == ""
    incidents.records += ["one", "two"]
    incidents.report(tmp_path / "results")
    path = tmp_path / "results" / Incidents.FILE
    assert path.read_text(encoding="utf-8") == "one\ntwo"
    assert capsys.readouterr().err == (
        "streamcompat: 2 internal error(s) of the harness, not of the code under test; their "
        f"tracebacks were written to {path} (please report them)\n"
    )


def test_incidents_that_cannot_be_written_are_still_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results").write_text("a file where the folder would be")
    incidents = Incidents()
    incidents.records.append("one")
    incidents.report(tmp_path / "results")
    err = capsys.readouterr().err
    assert "their tracebacks were not written ([Errno 17] File exists" in err


# The pytest plugin's gate says what the CLI's says.

STREAM_CELL, OTHER, ABORT_CELL = (
    "sse × curl × direct",
    "raw × curl × direct",
    "sse × curl × direct × abort",
)


@pytest.mark.parametrize(
    ("partial", "skipped_keys", "held", "fails"),
    [
        (False, frozenset(), {STREAM_CELL: "PASS", OTHER: "PASS"}, True),  # a whole run misses it
        (True, frozenset(), {STREAM_CELL: "PASS", OTHER: "PASS"}, False),
        (False, frozenset({OTHER}), {STREAM_CELL: "PASS", OTHER: "PASS"}, False),
        (False, frozenset(), {STREAM_CELL: "PASS", ABORT_CELL: "STOPPED"}, False),  # scenarios
        (False, frozenset(), {STREAM_CELL: "CORRUPT"}, False),  # an improvement
    ],
)
def test_the_fixtures_gate_misses_only_what_the_clis_would(
    tmp_path: Path, partial: bool, skipped_keys: frozenset[str], held: dict[str, str], fails: bool
) -> None:
    run = CompatRun(
        [result(STREAM_CELL)], partial=partial, skipped_keys=skipped_keys, root=tmp_path
    )
    gate = rules.Gate(partial=partial or rules.leaves_out_scenarios(["stream"], held),
                      skipped_keys=skipped_keys)  # fmt: skip
    assert gate.failed(gate.compare(held, run.results)) is fails
    if fails:
        with pytest.raises(AssertionError, match=f"missing: {OTHER}: PASS → \\(cell not run\\)"):
            run.assert_matches(held)
    else:
        run.assert_matches(held)


@pytest.mark.parametrize(
    ("partial", "skipped_keys", "abort", "kept"),
    [
        (False, frozenset(), False, {}),
        (True, frozenset(), False, {OTHER: "PASS"}),
        (False, frozenset({OTHER}), False, {OTHER: "PASS"}),
        # A baseline of abort cells too: a run of stream cells leaves them out, so it is
        # partial, and the other stream cell stays as well.
        (False, frozenset(), True, {OTHER: "PASS", ABORT_CELL: "STOPPED"}),
    ],
)  # fmt: skip
def test_the_fixtures_update_keeps_what_the_clis_would(
    tmp_path: Path, partial: bool, skipped_keys: frozenset[str], abort: bool, kept: dict[str, str]
) -> None:
    path = tmp_path / "b.json"
    baseline.write(
        path, {STREAM_CELL: "PASS", OTHER: "PASS", **({ABORT_CELL: "STOPPED"} if abort else {})}
    )
    run = CompatRun([result(STREAM_CELL, "BUFFERED")], partial=partial, skipped_keys=skipped_keys,
                    update=True, root=tmp_path)  # fmt: skip
    run.assert_matches("b.json")  # relative: from the root
    assert baseline.load(path) == {STREAM_CELL: "BUFFERED", **kept}
    assert list(run.notices) == [f"baseline written: {path} ({1 + len(kept)} cells)"]


def test_the_fixtures_improvements_are_a_notice_unless_strict(tmp_path: Path) -> None:
    run = CompatRun([result(STREAM_CELL)], root=tmp_path)
    run.assert_matches({STREAM_CELL: "BUFFERED"})
    assert list(run.notices) == ["improvements against the expected verdicts: update the baseline"]
    with pytest.raises(AssertionError, match=f"improvement: {STREAM_CELL}: BUFFERED → PASS"):
        run.assert_matches({STREAM_CELL: "BUFFERED"}, strict=True)
