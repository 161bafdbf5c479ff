"""The mistakes ``tools/mutants.py`` makes, one entry each: the file, the exact ``old``
text (once in it), the ``new`` text, and the test files that should catch it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


BASELINE = "tests/integration/test_baseline.py"
PROTOCOL = "tests/integration/test_report_protocol.py"
LOCKSTEP = "tests/unit/test_lockstep.py"
PROXY = "tests/integration/test_proxy.py"
SPLIT = "tests/integration/test_split.py"
PROCESSES = "tests/integration/test_processes.py"
WARDEN = "tests/integration/test_warden.py"
DIFFERENTIAL = "tests/unit/test_differential.py"
RESULTS = "tests/unit/test_results.py"
BENCH = "tests/unit/test_bench.py"
KEEP_ALIVE = "tests/unit/test_keep_alive.py"


@dataclass(frozen=True)
class Mutant:
    """One mistake: ``old`` replaced by ``new`` in ``file``; ``tests`` should catch it."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]

    def occurrences(self, root: Path) -> int:
        """How often ``old`` occurs in ``file`` under ``root``: 1, or the mutant is stale."""
        return _read(root / self.file).count(self.old)

    def apply(self, root: Path) -> None:
        path = root / self.file
        path.write_bytes(_read(path).replace(self.old, self.new, 1).encode("utf-8"))


MUTANTS: tuple[Mutant, ...] = (
    # The gate (harness/outputs/baseline.py, harness/front/gate.py, harness/cli.py).
    Mutant(
        "baseline: --strict ignored (strict no longer fails on improvements or new cells)",
        "harness/outputs/baseline.py",
        "self.regressions or self.missing or (strict and (self.new or self.improvements))",
        "self.regressions or self.missing",
        (BASELINE,),
    ),
    Mutant(
        "baseline: missing cells no longer fail the gate",
        "harness/outputs/baseline.py",
        "self.regressions or self.missing or (strict",
        "self.regressions or (strict",
        (BASELINE,),
    ),
    Mutant(
        "baseline: a change between verdicts of equal rank (CORRUPT → ERROR) is no regression",
        "harness/outputs/baseline.py",
        "RANK[now] < RANK[Verdict(before)]",
        "RANK[now] <= RANK[Verdict(before)]",
        (BASELINE,),
    ),
    Mutant(
        "gate: --update-baseline does not write the baseline",
        "harness/front/gate.py",
        "        baseline.write(path, cells)\n",
        "        pass\n",
        (BASELINE,),
    ),
    Mutant(
        "gate: a malformed baseline is read as no baseline (not exit 2)",
        "harness/front/gate.py",
        "return None, str(exc)  # reported by the gate, after the run",
        'return None, ""',
        (BASELINE,),
    ),
    Mutant(
        "cli: the gate lets an unreadable baseline through (not exit 2)",
        "harness/cli.py",
        "raise UsageError(unreadable)",
        "print(unreadable)",
        (BASELINE,),
    ),
    # Clocks: script clients' epoch milliseconds onto the harness's monotonic clock.
    Mutant(
        "scripts: ScriptCell.deliver's offset with its sign flipped",
        "harness/hosts/scripts.py",
        'at = float(message["t"]) / 1000 + self.offset',
        'at = float(message["t"]) / 1000 - self.offset',
        (PROTOCOL,),
    ),
    Mutant(
        "scripts: epoch_to_monotonic the wrong way round",
        "harness/hosts/scripts.py",
        "return time.monotonic() - time.time()",
        "return time.time() - time.monotonic()",
        (PROTOCOL,),
    ),
    # Lockstep.
    Mutant(
        "lockstep: _wait returns False at its deadline instead of re-checking its condition",
        "harness/engine/lockstep.py",
        "            except asyncio.TimeoutError:\n                return condition()\n",
        "            except asyncio.TimeoutError:\n                return False\n",
        (LOCKSTEP,),
    ),
    Mutant(
        "lockstep: a stall counted while a long token is still arriving (no progress rule)",
        "harness/engine/lockstep.py",
        "if barrier_held and self.matched == before:",
        "if barrier_held:",
        (LOCKSTEP,),
    ),
    # Proxy shaping.
    Mutant(
        "proxy: buffer-16k flushes at 8 KiB",
        "harness/engine/proxy.py",
        "BUFFER_SIZE = 16 * 1024",
        "BUFFER_SIZE = 8 * 1024",
        (PROXY,),
    ),
    Mutant(
        "proxy: coalesce joins up to two reads, not three",
        "harness/engine/proxy.py",
        "COALESCE_READS = 3",
        "COALESCE_READS = 2",
        (PROXY,),
    ),
    Mutant(
        "proxy: coalesce joins up to four reads, not three",
        "harness/engine/proxy.py",
        "COALESCE_READS = 3",
        "COALESCE_READS = 4",
        (PROXY,),
    ),
    Mutant(
        "proxy: split sends a long write's rest in 511-byte pieces, not 509",
        "harness/engine/proxy.py",
        "SPLIT_PIECE = 509",
        "SPLIT_PIECE = 511",
        (SPLIT, PROXY),
    ),
    # Processes.
    Mutant(
        "processes.end: no SIGKILL after the bound (a child ignoring SIGTERM lives on)",
        "harness/hosts/processes.py",
        "            except subprocess.TimeoutExpired:\n"
        "                _signal_group(group, signal.SIGKILL)\n"
        "                await asyncio.to_thread(process.wait, STOP_BOUND_S)\n",
        "            except subprocess.TimeoutExpired:\n                pass\n",
        (PROCESSES,),
    ),
    Mutant(
        "processes.end: a group whose leader exited is left (a dead master's workers live on)",
        "harness/hosts/processes.py",
        "        else:\n            await _end_stragglers(group, signalled=False)\n",
        "        else:\n            pass\n",
        (WARDEN,),
    ),
    Mutant(
        "processes.spawn_piped: its group is not told to the warden (a harness killed "
        "outright leaves what outlives the child)",
        "harness/hosts/processes.py",
        "        env={**os.environ, **env} if env else None,\n"
        "    )\n    WARDEN.watch(process.pid)\n",
        "        env={**os.environ, **env} if env else None,\n    )\n",
        (WARDEN,),
    ),
    Mutant(
        "processes.Lifecycle: a failed start leaves what it started running",
        "harness/hosts/processes.py",
        "        except BaseException:\n            await self.stop()\n            raise\n",
        "        except BaseException:\n            raise\n",
        (PROCESSES,),
    ),
    # The differential: a client that raised is not one that saw no event.
    Mutant(
        "clients: the httpx drivers raise on every response, so httpx-sse yields []",
        "clients/with_httpx.py",
        "    if response.is_error:",
        "    if not response.is_error:",
        (DIFFERENTIAL,),
    ),
    Mutant(
        "differential: a client's failure is swallowed, so it yields [] silently",
        "harness/engine/differential.py",
        "error = str(exc)",
        'error = ""',
        (DIFFERENTIAL,),
    ),
    Mutant(
        "differential: a client library's exception is swallowed, so it yields [] silently",
        "harness/engine/differential.py",
        'error = f"{type(exc).__name__}: {exc}"',
        'error = ""',
        (DIFFERENTIAL,),
    ),
    # Results and figures.
    Mutant(
        "results.cell_record: tokens_surfaced dropped",
        "harness/outputs/results.py",
        '        "tokens_surfaced": len(facts.surfaced_at),\n',
        "",
        (RESULTS,),
    ),
    Mutant(
        "results.cell_record: emitted_ms in seconds",
        "harness/outputs/results.py",
        "[_ms((t - facts.started_at) * 1000) for t in facts.emitted_at]",
        "[_ms(t - facts.started_at) for t in facts.emitted_at]",
        (RESULTS,),
    ),
    Mutant(
        "results.index: cells placed off the run's timeline (no started_ms)",
        "harness/outputs/results.py",
        '"cells": [cell_record(r, run_began) for r in results]',
        '"cells": [cell_record(r) for r in results]',
        (RESULTS,),
    ),
    Mutant(
        "results.progress_line: milliseconds shown as seconds",
        "harness/outputs/results.py",
        "{result.duration_ms / 1000:.2f} s",
        "{result.duration_ms:.2f} s",
        (RESULTS,),
    ),
    Mutant(
        "bench: cells/s over bench's wall time, start-up included, not the run's own",
        "tools/bench.py",
        "return self.cells / self.inside_s if self.inside_s else None",
        "return self.cells / self.wall_s if self.inside_s else None",
        (BENCH,),
    ),
    Mutant(
        "bench: CPU ms/cell total in seconds",
        "tools/bench.py",
        '("CPU ms/cell total", 1000 * sum(per_cell.values()))',
        '("CPU ms/cell total", sum(per_cell.values()))',
        (BENCH,),
    ),
    Mutant(
        "bench: PASS figures over every cell, not only PASS cells",
        "tools/bench.py",
        'passing = [c for c in cells if c["verdict"] == "PASS"]',
        "passing = list(cells)",
        (BENCH,),
    ),
    Mutant(
        "keep-alive: a stream on a new connection judged as one on the kept connection",
        "harness/kernel/verdicts.py",
        "    if stream[0].port != first[0].port:\n",
        "    if False:\n",
        (KEEP_ALIVE,),
    ),
    Mutant(
        "keep-alive: TCP_NODELAY read as its opposite",
        "servers/peers.py",
        "return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))",
        "return not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)",
        (KEEP_ALIVE,),
    ),
    Mutant(
        "clock margin: a stalled token's stamp judged without its clock's slack",
        "harness/kernel/verdicts.py",
        "    return facts.surfaced_at[k - 1] + clock_slack(facts) >= later_bytes_at(facts, k)\n",
        "    return facts.surfaced_at[k - 1] >= later_bytes_at(facts, k)\n",
        ("tests/unit/test_verdicts.py",),
    ),
    Mutant(
        "clock margin: the cell keeps the loosest barrier's bound, not the tightest",
        "harness/engine/lockstep.py",
        "lead if known is None else max(known, lead)",
        "lead if known is None else min(known, lead)",
        (LOCKSTEP,),
    ),
)
