"""The npm packages of the Node and browser clients: where they are, and installing them.

In a checkout (``npm ci --prefix clients/node``) and in nox's sessions they sit beside the
scripts, in ``clients/node/node_modules``. An installed ``streamcompat`` cannot count on
that (site-packages may be read-only, and is replaced on every upgrade), so
``streamcompat setup`` — or the first run that needs them, with a notice — copies the
scripts with the shipped ``package-lock.json`` into a per-user cache and runs ``npm ci``
there. The copy is named by a digest of what it holds, so an upgrade of streamcompat
that changes a script or a pinned version gets a copy of its own. ``npm ci`` also bundles
the browser modules a page cannot import as shipped (``package.json``'s ``postinstall``,
with the pinned esbuild); ``page_module`` finds them for a page.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from streamcompat.harness.kernel.model import ClientFailed

HERE = Path(__file__).parent  # the scripts: *.js here, node/*.mjs, node/package*.json
#: What to do when they are missing.
SETUP = "run `streamcompat setup` (or, in a checkout, `npm ci --prefix clients/node`)"
#: npm ci of a few small packages and esbuild's binary; a registry that does not answer
#: fails it by then.
INSTALL_BOUND_S = 600.0


class SetupFailed(Exception):
    """The packages could not be installed; the message says why and what to do."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamcompat"


def _sources() -> list[Path]:
    node = HERE / "node"
    found = [
        *HERE.glob("*.js"),
        *node.glob("*.mjs"),
        node / "package.json",
        node / "package-lock.json",
    ]
    return sorted(path for path in found if path.is_file())


def _copy_name() -> str:
    # Asked by every Node and browser-SSE cell: the files are hashed again only when one
    # of them changed (a stat each), not read on every cell.
    stamps = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in _sources())
    return _digest_of(HERE, stamps)


@functools.lru_cache(maxsize=8)
def _digest_of(here: Path, stamps: tuple[tuple[Path, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _, _ in stamps:
        digest.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes())
    return f"clients-{digest.hexdigest()[:16]}"


def installed() -> Path | None:
    """The clients folder whose ``node/node_modules`` the clients use, if there is one:
    this package's own, else the per-user copy."""
    if (HERE / "node" / "node_modules").is_dir():
        return HERE
    copy = cache_root() / _copy_name()
    return copy if (copy / "node" / "node_modules").is_dir() else None


def install() -> Path:
    """Install the pinned packages into the per-user copy (if it is not there yet)."""
    found = installed()
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise SetupFailed("npm is not installed (it comes with Node.js 20 or newer)")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / _copy_name()
    with tempfile.TemporaryDirectory(prefix="clients-", dir=root) as tmp:
        staged = Path(tmp) / "clients"
        for path in _sources():
            target = staged / path.relative_to(HERE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        command = [npm, "ci", "--prefix", str(staged / "node"), "--no-audit", "--no-fund"]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_BOUND_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise SetupFailed(f"npm ci took longer than {INSTALL_BOUND_S:g} s") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise SetupFailed(f"npm ci failed: {lines[-1] if lines else done.returncode}")
        try:
            staged.rename(final)  # whole or not at all; a concurrent setup may have won
        except OSError:
            if installed() is None:
                raise
    return final


def page_module(relative: Path, package: str) -> Path:
    """A single-file ES module of the pinned packages, for a page to import: ``relative``
    under the installed clients folder (``node/node_modules/...``); ClientFailed, saying
    what to run, where it is missing (no packages, or installed before it was pinned)."""
    folder = installed()
    if folder is None or not (folder / relative).is_file():
        raise ClientFailed(f"{package} is not installed: {SETUP}")
    return folder / relative
