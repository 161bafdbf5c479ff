"""``streamcompat setup``: what the clients and networks need outside a checkout (the npm
packages, a Chromium, Firefox ESR, WebKitGTK, the real proxies), installed ahead of a first
run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from streamcompat.harness.hosts.browser import find_chromium
from streamcompat.harness.hosts.firefox import FIREFOX_PACKAGES, find_firefox
from streamcompat.harness.hosts.proxies import PROXIES
from streamcompat.harness.hosts.webkit import WEBKIT_PACKAGES

#: apt must not start what it installs: a proxy is the harness's, per run, on loopback.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
APT_BOUND_S = 900


def setup_command(parts: Sequence[str] = ()) -> int:
    """Install what is missing of ``parts`` (all when none is named); 1 if one failed."""
    unknown = [p for p in parts if p not in SETUP_PARTS]
    if unknown:
        print(
            f"streamcompat setup: unknown part(s): {', '.join(unknown)}; "
            f"known: {', '.join(SETUP_PARTS)}",
            file=sys.stderr,
        )
        return 2
    chosen = [p for p in SETUP_PARTS if not parts or p in parts]
    return max(SETUP_PARTS[p]() for p in chosen)


def setup_proxies() -> int:
    """The real proxies this machine lacks, from the distribution (Debian/Ubuntu, as root,
    with apt; services not started): a proxy that cannot be installed is only noted, as
    its networks are then skipped with a notice naming its package."""
    missing = {k.name: k.package for k in PROXIES.values() if k.binary() is None}
    for kind in PROXIES.values():
        if kind.name not in missing:
            print(f"{kind.name}: {kind.binary()}")
    found = _apt_install(missing, lambda name: PROXIES[name].binary())
    _said(missing, found, "its network is skipped")
    return 0


def setup_firefox() -> int:
    """Firefox ESR for the Firefox columns, and NSS's certutil, which imports a TLS run's CA
    into its profile (Debian/Ubuntu, as root, with apt): where they cannot be installed,
    those columns are skipped with a notice naming the packages."""
    missing = {name: package for name, package in FIREFOX_PACKAGES.items() if not which(name)}
    for name in FIREFOX_PACKAGES:
        if name not in missing:
            print(f"{name}: {which(name)}")
    _said(missing, _apt_install(missing, which), "the Firefox columns are skipped")
    return 0


def setup_webkit() -> int:
    """WebKitGTK's WebDriver (with its MiniBrowser) and Xvfb, the display it runs on, for
    the WebKit columns (Debian/Ubuntu, as root, with apt): where they cannot be installed,
    those columns are skipped with a notice naming the packages."""
    missing = {name: package for name, package in WEBKIT_PACKAGES.items() if not which(name)}
    for name in WEBKIT_PACKAGES:
        if name not in missing:
            print(f"{name}: {which(name)}")
    _said(missing, _apt_install(missing, which), "the WebKit columns are skipped")
    return 0


def _said(missing: Mapping[str, str], found: set[str] | None, otherwise: str) -> None:
    """One line per missing program: installed, or not, and what that means."""
    for name, package in missing.items():
        if found is None:
            print(f"{name}: not installed; {otherwise} (apt-get install {package})")
        else:
            print(f"{name}: {package} {'installed' if name in found else 'could not be installed'}")


def which(program: str) -> str | None:
    """Where ``program`` is: Firefox as the harness finds it, anything else on PATH."""
    return find_firefox() if program == "firefox" else shutil.which(program)


def _apt_install(
    missing: Mapping[str, str], present: Callable[[str], str | None]
) -> set[str] | None:
    """Install the packages of ``missing`` (name -> package) with apt, as root, no service
    started; the names ``present`` then finds. None: not root, or no apt (nothing tried)."""
    if not missing:
        return set()
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return None
    guard = not POLICY_RC_D.exists()
    if guard:  # the Debian way to keep maintainer scripts from starting services
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _apt(["update", "-qq"], env)
        for package in dict.fromkeys(missing.values()):
            _apt(["install", "-y", "-qq", "--no-install-recommends", package], env)
    finally:
        if guard:
            POLICY_RC_D.unlink(missing_ok=True)
    return {name for name in missing if present(name)}


def _apt(arguments: list[str], env: dict[str, str]) -> bool:
    try:
        done = subprocess.run(["apt-get", *arguments], env=env, timeout=APT_BOUND_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"apt-get {arguments[0]}: {exc}", file=sys.stderr)
        return False
    return done.returncode == 0


def setup_npm() -> int:
    """The clients' npm packages, per user."""
    from streamcompat.clients import npm

    try:
        folder = npm.install()
    except (npm.SetupFailed, OSError) as exc:
        print(f"streamcompat setup: npm packages: {exc}", file=sys.stderr)
        return 1
    print(f"npm packages: {folder / 'node' / 'node_modules'}")
    return 0


def setup_chromium() -> int:
    """A Chromium: the system's, Playwright's, or Playwright's downloaded now."""
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


SETUP_PARTS = {
    "npm": setup_npm,
    "chromium": setup_chromium,
    "firefox": setup_firefox,
    "webkit": setup_webkit,
    "proxies": setup_proxies,
}
