"""Everything a contributor can run.

nox -s compat              # the matrix, the gate, the reports (args after -- go to streamcompat)
nox -s tests               # the project's own tests (args after -- go to pytest)
nox -s lint                # ruff and mypy
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["compat", "tests"]
nox.options.default_venv_backend = "uv|virtualenv"  # uv when it is installed: much faster
nox.options.reuse_existing_virtualenvs = True

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium(session: nox.Session) -> None:
    """Make sure Playwright has a Chromium: the system one, apt's, or Playwright's own."""
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


@nox.session
def compat(session: nox.Session) -> None:
    """Run the matrix on the built-in variants, write results/, gate against the baseline."""
    session.install(".")
    chromium(session)
    session.run("streamcompat", "run", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests: unit tests, the pinned matrix, process clean-up."""
    session.install("-e", ".[test]")
    chromium(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
