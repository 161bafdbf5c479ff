"""junit.xml: a test case per cell, so CI shows the matrix as tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from streamcompat.harness.kernel import model
from streamcompat.harness.outputs.reports.cells import (
    PASSING,
    UNSUPPORTED,
    Cell,
    _cells,
    _figures,
    _networks,
    _number,
    _pair,
    _verdict,
    _versions,
    _where,
)

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _seconds(cell: Cell) -> float:
    return (_number(cell.get("duration_ms")) or 0.0) / 1000


def junit_xml(index: dict[str, Any]) -> str:
    """One testsuite per network (and scenario), one testcase per cell; UNSUPPORTED is
    skipped, not failed, and a scenario's passing word (STOPPED, TOLD) passes."""
    cells = _cells(index)
    suites = ET.Element("testsuites", name="streamcompat")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for network in _networks(cells):
        here = [c for c in cells if _where(c) == network]
        dotted = network.replace(model.KEY_SEPARATOR, ".")  # direct, or direct.abort
        suite = ET.SubElement(suites, "testsuite", name=_xml(f"streamcompat.{dotted}"))
        properties = ET.SubElement(suite, "properties")
        for name, version in _versions(index).items():
            ET.SubElement(properties, "property", name=_xml(name), value=_xml(version))
        counts = {"tests": len(here), "failures": 0, "skipped": 0}
        for c in here:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"streamcompat.{dotted}"),
                name=_xml(_pair(c)),
                time=f"{_seconds(c):.3f}",
            )
            verdict, detail = _verdict(c), str(c.get("detail", ""))
            if verdict == UNSUPPORTED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_xml(f"{verdict}: {detail}"))
            elif verdict not in PASSING:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case, "failure", message=_xml(f"{verdict}: {detail}"), type=_xml(verdict)
                )
                facts = "\n".join(f"{name}: {value}" for name, value in _figures(c))
                failure.text = _xml(f"{detail}\n{facts}")
        for name, count in counts.items():
            suite.set(name, str(count))
            totals[name] += count
        suite.set("errors", "0")
        suite.set("time", f"{sum(_seconds(c) for c in here):.3f}")
    for name, count in totals.items():
        suites.set(name, str(count))
    suites.set("errors", "0")
    wall = _number((index.get("run") or {}).get("wall_s"))
    if wall is not None:
        suites.set("time", f"{wall:.3f}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
