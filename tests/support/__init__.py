"""Helpers the tests import: processes (procs), loopback servers, apps, plug-ins, clocks."""

from __future__ import annotations

import sys
from pathlib import Path

#: The checkout's root.
ROOT = Path(__file__).resolve().parents[2]

#: The command line of the installed tool, run from the checkout (as `streamcompat`).
CLI = [sys.executable, "-m", "streamcompat.harness.cli"]
