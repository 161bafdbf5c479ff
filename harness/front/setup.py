"""``streamcompat setup``: what the clients need outside a checkout (the npm packages, a
Chromium), installed ahead of a first run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streamcompat.harness.hosts.browser import find_chromium


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
