"""``[tool.streamcompat]`` (``front.config``): every key of ``streamcompat run`` in both
spellings, every wrong type refused with its own sentence, which file is read, and a flag
on the command line winning over the file in each form argparse accepts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from streamcompat.harness import cli
from streamcompat.harness.front import config
from streamcompat.harness.kernel.tokens import SCRIPTS


def run_actions() -> dict[str, argparse.Action]:
    """``streamcompat run``'s options by their key in the file (``app-name``)."""
    run = cli._subcommand(cli.parser(), "run")
    return {
        a.dest.replace("_", "-"): a for a in run._actions if a.option_strings and a.dest != "help"
    }


def parse(directory: Path, *argv: str) -> argparse.Namespace:
    """``streamcompat run ARGV`` as ``main`` parses it, ``directory``'s file as defaults."""
    top = cli.parser()
    config.apply(cli._subcommand(top, "run"), list(argv), directory)
    return top.parse_args(["run", *argv])


def pyproject(directory: Path, table: str) -> Path:
    path = directory / "pyproject.toml"
    path.write_text(f"[project]\nname = 'mine'\n\n[tool.streamcompat]\n{table}\n")
    return path


# Every key: (its TOML value, what the run gets).
KEYS: dict[str, tuple[str, Any]] = {
    "variants": ('["builtin", "mypkg:VARIANTS"]', ["builtin", "mypkg:VARIANTS"]),
    "variant": ('"sse"', ["sse"]),
    "clients": ('["python", "node"]', ["python", "node"]),
    "network": ('"direct,nginx:deploy/site.conf"', ["direct,nginx:deploy/site.conf"]),
    "scenario": ('["abort", "error"]', ["abort", "error"]),
    "server": ('"hypercorn,granian"', ["hypercorn,granian"]),
    "jobs": ("3", 3),
    "results": ('"out"', Path("out")),
    "json": ('"out/index.json"', Path("out/index.json")),
    "html": ('"report.html"', Path("report.html")),
    "script": ('"limits"', "limits"),
    "hold-window": ("2", 2.0),
    "head-window": ("2.5", 2.5),
    "deadline": ("9.5", 9.5),
    "baseline": ('"compat.json"', Path("compat.json")),
    "update-baseline": ("true", True),
    "strict": ("true", True),
    "quiet": ("true", True),
    "app": ('"uvicorn myapp.main:app --port {port}"', "uvicorn myapp.main:app --port {port}"),
    "app-name": ('"myapp"', "myapp"),
    "endpoint": ('"GET /chat?q={prompt}"', "GET /chat?q={prompt}"),
    "body": ("'{\"message\": \"{prompt}\"}'", '{"message": "{prompt}"}'),
    "codec": ('"json:token"', "json:token"),
    "event": ('"token"', "token"),
    "end-event": ('"done"', "done"),
    "end-data": ('"[DONE]"', "[DONE]"),
    "app-start-timeout": ("12", 12.0),
}  # fmt: skip


def test_the_table_of_keys_is_every_option_of_run() -> None:
    """A new flag of ``streamcompat run`` gets a row above, so its key is tested too."""
    assert set(KEYS) == set(run_actions())


@pytest.mark.parametrize("spelling", ["-", "_"])
@pytest.mark.parametrize("key", sorted(KEYS))
def test_every_key_gives_the_run_what_its_flag_would(
    tmp_path: Path, key: str, spelling: str
) -> None:
    value, expected = KEYS[key]
    pyproject(tmp_path, f"{key.replace('-', spelling)} = {value}")
    args = parse(tmp_path)
    assert getattr(args, key.replace("-", "_")) == expected
    # ... and nothing else changed: every other option has the flag's default.
    defaults = cli.parser().parse_args(["run"])
    others = {k: v for k, v in vars(args).items() if k != key.replace("-", "_")}
    assert others == {k: v for k, v in vars(defaults).items() if k != key.replace("-", "_")}


def test_a_string_where_a_flag_repeats_is_split_as_the_flag_would_be(tmp_path: Path) -> None:
    pyproject(tmp_path, 'clients = "curl, httpx"\nnetwork = ["direct", "split,coalesce"]')
    request = cli.request_of(parse(tmp_path))
    assert request.clients == ("curl", "httpx")
    assert request.networks == ("direct", "split", "coalesce")


SCRIPT_NAMES = ", ".join(sorted(SCRIPTS))


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("clients = 3", "clients must be a string or a list of strings"),
        ('clients = ["curl", 1]', "clients must be a string or a list of strings"),
        ("clients = { curl = true }", "clients must be a string or a list of strings"),
        ("variants = [[\"builtin\"]]", "variants must be a string or a list of strings"),
        ('strict = "yes"', "strict must be true or false"),
        ("update_baseline = 1", "update-baseline must be true or false"),
        ("jobs = [2]", "jobs must be a single value, not [2]"),
        ("app = { command = 'x' }", "app must be a single value, not {'command': 'x'}"),
        ("baseline = true", "baseline must be a single value, not True"),
        ('script = "lorem"', f"script must be one of {SCRIPT_NAMES}"),
        ("jobs = 2.5", "jobs must be a whole number, not 2.5"),
        ('jobs = "many"', "jobs: invalid literal for int"),
        ('hold_window = "soon"', "hold-window: could not convert string to float"),
        ("deadline = 1979-05-27", "deadline: float() argument must be"),
        ("baseline = 3", "baseline must be a path (a string), not 3"),
        ('colour = "red"\nclient = "curl"',
         "unknown key(s) in [tool.streamcompat]: client, colour"),
        ("help = true", "unknown key(s) in [tool.streamcompat]: help"),
        ("parts = ['npm']", "unknown key(s) in [tool.streamcompat]: parts"),
    ],
)  # fmt: skip
def test_a_value_the_flag_would_not_take_is_refused_naming_file_and_key(
    tmp_path: Path, line: str, says: str
) -> None:
    path = pyproject(tmp_path, line)
    with pytest.raises(config.ConfigError) as refused:
        parse(tmp_path)
    assert str(refused.value).startswith(f"{path}: {says}")


def test_an_unknown_key_is_told_the_known_ones(tmp_path: Path) -> None:
    pyproject(tmp_path, "colour = 1")
    with pytest.raises(config.ConfigError, match=r"\(known: (.*)\)$") as refused:
        parse(tmp_path)
    known = str(refused.value).split("(known: ")[1].rstrip(")").split(", ")
    assert known == sorted(KEYS)


# Which file is read.


@pytest.mark.parametrize(
    ("files", "table", "source"),
    [
        ({}, {}, None),
        ({"pyproject.toml": "[tool.streamcompat]\njobs = 2"}, {"jobs": 2}, "pyproject.toml"),
        ({"pyproject.toml": "[tool.streamcompat]"}, {}, "pyproject.toml"),
        ({"pyproject.toml": "[project]\nname = 'x'"}, {}, None),  # someone else's table
        ({"pyproject.toml": "[tool.ruff]\nline-length = 1"}, {}, None),
        ({"streamcompat.toml": "jobs = 2"}, {"jobs": 2}, "streamcompat.toml"),
        ({"streamcompat.toml": ""}, {}, "streamcompat.toml"),
        ({"streamcompat.toml": "quiet = true\n[tool.streamcompat]\njobs = 2"}, {"jobs": 2},
         "streamcompat.toml"),  # its own table, when it has one, not its top level
        ({"streamcompat.toml": "tool = 1\njobs = 2"}, {"jobs": 2}, "streamcompat.toml"),
        ({"pyproject.toml": "[tool.streamcompat]\njobs = 1", "streamcompat.toml": "jobs = 2"},
         {"jobs": 1}, "pyproject.toml"),
        ({"pyproject.toml": "[project]\nname = 'x'", "streamcompat.toml": "jobs = 2"},
         {"jobs": 2}, "streamcompat.toml"),
        ({"pyproject.toml": "tool = 1", "streamcompat.toml": "jobs = 2"}, {"jobs": 2},
         "streamcompat.toml"),
        ({"pyproject.toml/": "", "streamcompat.toml": "jobs = 2"}, {"jobs": 2},
         "streamcompat.toml"),  # a folder of that name is not the file
    ],
)  # fmt: skip
def test_the_options_come_from_pyproject_else_streamcompat_toml(
    tmp_path: Path, files: dict[str, str], table: dict[str, Any], source: str | None
) -> None:
    for name, text in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text(text)
    found, path = config.find(tmp_path)
    assert (found, path) == (table, None if source is None else tmp_path / source)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("pyproject.toml", b"[tool.streamcompat\n", "is not valid TOML"),
        ("streamcompat.toml", b"jobs = = 2\n", "is not valid TOML"),
        ("streamcompat.toml", b"body = '\xff'\n", "is not valid TOML"),  # not UTF-8
        ("pyproject.toml", b"[tool]\nstreamcompat = 1\n", "[tool.streamcompat] must be a table"),
        ("streamcompat.toml", b"[tool]\nstreamcompat = 'x'\n",
         "[tool.streamcompat] must be a table"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_is_refused_naming_it(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(config.ConfigError) as refused:
        config.find(tmp_path)
    assert str(refused.value).startswith(f"{tmp_path / name}")
    assert says in str(refused.value)


def test_apply_names_the_file_it_read_and_nothing_without_one(tmp_path: Path) -> None:
    run = cli._subcommand(cli.parser(), "run")
    assert config.apply(run, [], tmp_path) == ""
    (tmp_path / "streamcompat.toml").write_text("jobs = 2\n")
    assert config.apply(run, [], tmp_path) == "streamcompat.toml"


# A flag on the command line wins, in every form argparse takes it.

FILE = """clients = ["python"]
network = "split"
jobs = 7
hold-window = 4
baseline = "file.json"
strict = true
app-name = "from-file"
"""


@pytest.mark.parametrize(
    ("argv", "wins"),
    [
        ((), {}),
        (("--clients", "curl"), {"clients": ["curl"]}),
        (("--clients=curl",), {"clients": ["curl"]}),
        (("--clients", "curl", "--clients=httpx"), {"clients": ["curl", "httpx"]}),
        # A unique prefix is the option to argparse; so it is to the file's defaults,
        # else the file's clients would be added to the flag's.
        (("--client", "curl"), {"clients": ["curl"]}),
        (("--client=curl",), {"clients": ["curl"]}),
        (("--cl", "curl"), {"clients": ["curl"]}),
        (("--network=direct",), {"network": ["direct"]}),
        (("--net", "direct"), {"network": ["direct"]}),
        (("--jobs", "2"), {"jobs": 2}),
        (("--jobs=2",), {"jobs": 2}),
        (("--hold-window=1.5",), {"hold_window": 1.5}),
        (("--hold", "1.5"), {"hold_window": 1.5}),
        (("--baseline", "cli.json"), {"baseline": Path("cli.json")}),
        # --app is given, not --app-name, though one starts the other: the file's stays.
        (("--app", "uvicorn x:app"), {"app": "uvicorn x:app"}),
        (("--app=uvicorn x:app",), {"app": "uvicorn x:app"}),
        (("--app-name", "cli"), {"app_name": "cli"}),
        # A flag inside a value is no flag given: the file's clients stay.
        (("--app=uvicorn x:app --clients curl",), {"app": "uvicorn x:app --clients curl"}),
    ],
)  # fmt: skip
def test_a_flag_given_wins_over_the_file_and_only_that_flag(
    tmp_path: Path, argv: tuple[str, ...], wins: dict[str, Any]
) -> None:
    pyproject(tmp_path, FILE)
    from_file = {
        "clients": ["python"], "network": ["split"], "jobs": 7, "hold_window": 4.0,
        "baseline": Path("file.json"), "strict": True, "app_name": "from-file", "app": None,
    }  # fmt: skip
    args = parse(tmp_path, *argv)
    assert {k: getattr(args, k) for k in from_file} == {**from_file, **wins}


def test_an_ambiguous_prefix_is_argparses_usage_error_not_a_file_default(tmp_path: Path) -> None:
    pyproject(tmp_path, 'end-event = "bye"\nend-data = "[DONE]"')
    run = cli._subcommand(cli.parser(), "run")
    config.apply(run, ["--end", "x"], tmp_path)  # --end-event? --end-data? --endpoint?
    assert (run.get_default("end_event"), run.get_default("end_data")) == ("bye", "[DONE]")


def test_a_store_true_flag_given_is_true_whatever_the_file_says(tmp_path: Path) -> None:
    pyproject(tmp_path, "strict = false\nquiet = false")
    args = parse(tmp_path, "--strict")
    assert (args.strict, args.quiet) == (True, False)


# The command: the file is read for `run` only, and a bad one is exit 2 in one line.


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[argparse.Namespace]:
    """``streamcompat run`` in ``tmp_path`` up to the run, which is recorded, not made."""
    ran: list[argparse.Namespace] = []

    async def run_command(args: argparse.Namespace) -> int:
        ran.append(args)
        return 0

    monkeypatch.setattr(cli, "run_command", run_command)
    monkeypatch.chdir(tmp_path)
    return ran


def test_run_says_which_file_its_options_came_from(
    tmp_path: Path, commands: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject(tmp_path, 'clients = "curl"')
    assert cli.main(["run", "--results", str(tmp_path / "r")]) == 0
    assert commands[0].clients == ["curl"]
    assert (
        "streamcompat: options from pyproject.toml [tool.streamcompat]" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[tool.streamcompat\n", "pyproject.toml is not valid TOML"),
        ("[tool.streamcompat]\nclient = 'x'\n", "unknown key(s) in [tool.streamcompat]: client"),
        ("[tool.streamcompat]\njobs = 'x'\n", "jobs: invalid literal for int()"),
        ("tool = 1\n", None),  # not our table: no options, and no traceback
    ],
)
def test_a_file_run_cannot_use_is_exit_2_in_one_line_before_anything_runs(
    tmp_path: Path,
    commands: list[argparse.Namespace],
    capsys: pytest.CaptureFixture[str],
    text: str,
    says: str | None,
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    code = cli.main(["run", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    if says is None:
        assert (code, len(commands), "options from" in err) == (0, 1, False)
        return
    assert (code, commands) == (2, [])
    assert err.startswith(f"streamcompat: {tmp_path / 'pyproject.toml'}") and says in err
    assert len(err.splitlines()) == 1


def test_an_unreadable_file_is_exit_2_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    commands: list[argparse.Namespace],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def unreadable(*given: object) -> str:
        raise PermissionError("[Errno 13] Permission denied: 'pyproject.toml'")

    monkeypatch.setattr(config, "apply", unreadable)
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err == (
        "streamcompat: [Errno 13] Permission denied: 'pyproject.toml'\n"
    )
    assert commands == []


def test_other_commands_do_not_read_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.streamcompat]\nnot-an-option = 1\n")
    monkeypatch.chdir(tmp_path)
    parts: list[list[str]] = []

    def setup_command(given: list[str]) -> int:
        parts.append(given)
        return 0

    monkeypatch.setattr(cli, "setup_command", setup_command)
    assert cli.main(["setup", "npm"]) == 0
    assert parts == [["npm"]]
    assert "not-an-option" not in capsys.readouterr().err


def test_every_flag_of_the_command_line_wins_not_only_those_before_a_value(
    tmp_path: Path,
) -> None:
    # A flag's value is an argument too: the flags after it are the command line's still.
    pyproject(tmp_path, 'clients = "curl"\nnetwork = "split"\njobs = 7')
    args = parse(tmp_path, "--clients", "httpx", "--network", "direct", "--jobs=2")
    assert (args.clients, args.network, args.jobs) == (["httpx"], ["direct"], 2)
