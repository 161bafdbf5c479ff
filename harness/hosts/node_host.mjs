// The Node host: one node process per run that serves cells as messages
// (harness/hosts/node_host.py starts it). On stdin, a JSON line each:
//   {op: "start", cell, script, function, cfg}  import script (once), then run
//        globalThis[function](cfg, report, signal) through streamcompatRunCell
//   {op: "stop", cell}        abort the cell: its request ends, its sockets go
//   {op: "abort", cell}       the user stops the cell (the abort scenario): as stop, and
//                             the cell reports it has left
//   {op: "barrier", cell, id} answered {cell, barrier: id, t} once every report the cell
//                             queued before it has been written (t: when it was taken, epoch ms)
// On stdout, a JSON line per envelope: {cell, batch} (harness/hosts/scripts.js) or {cell, barrier}.
import { AsyncLocalStorage } from "node:async_hooks";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import "./scripts.js";

// stdout carries envelopes only: whatever a library logs goes to stderr.
console.log = console.info = console.debug = console.error;
// stdout is a pipe, which Node writes synchronously on Linux: a line is out before the
// next task runs, so a barrier's answer always follows the reports flushed before it.
const write = (envelope) => process.stdout.write(`${JSON.stringify(envelope)}\n`);
globalThis.__streamcompat = write;
process.stdout.on("error", () => process.exit(0)); // the harness is gone

const running = new Map(); // cell -> its AbortController
const cellOf = new AsyncLocalStorage(); // which cell an uncaught error came from

const start = ({ cell, script, function: name, cfg }) => {
  const controller = new AbortController();
  running.set(cell, controller);
  const run = async (...args) => {
    await import(pathToFileURL(script).href);
    if (typeof globalThis[name] !== "function") throw new Error(`${script} defines no ${name}`);
    return globalThis[name](...args);
  };
  cellOf
    .run(cell, () => streamcompatRunCell(run, { ...cfg, cell }, controller.signal))
    .finally(() => running.delete(cell));
};

const ops = {
  start,
  stop: ({ cell }) => running.get(cell)?.abort(),
  abort: ({ cell }) => streamcompatAbort(cell, running.get(cell)),
  barrier: ({ cell, id }) => {
    const t = performance.timeOrigin + performance.now(); // taken now: reports before it are queued
    streamcompatBarrier(cell).then(() => write({ cell, barrier: id, t }));
  },
};

// Cells share this process, so a library's stray error must not end the others: it is
// its cell's error. One that belongs to no cell means the host itself is broken.
const fail = (error) => {
  const cell = cellOf.getStore();
  if (cell === undefined) {
    process.stderr.write(`streamcompat node host: ${error?.stack ?? error}\n`);
    process.exit(70);
  }
  if (running.has(cell)) {
    streamcompatFail(cell, error);
    running.get(cell).abort();
  }
};
process.on("uncaughtException", fail).on("unhandledRejection", fail);

createInterface({ input: process.stdin })
  .on("line", (line) => {
    const message = JSON.parse(line);
    ops[message.op](message);
  })
  .on("close", () => process.exit(0)); // the harness closed its end: nothing more to serve
