// A page of the browser host (harness/hosts/browser.py): the variant server's blank page
// imports this from the harness, which then drives the page over one WebSocket, the way
// it drives the Node host over stdin/stdout (harness/hosts/node_host.mjs). Messages in:
//   {op: "start", cell, script, function, modules, cfg}  import modules (each namespace at
//        window[name]) and script (once each), then run window[function](cfg, report,
//        signal) through streamcompatRunCell; {cell, finished: true} once it has returned
//        and its last report is out
//   {op: "stop", cell}         abort the cell: its request ends
//   {op: "abort", cell}        the user stops the cell (the abort scenario): as stop, and
//                              the cell reports it has left
//   {op: "barrier", cell, id}  answered {cell, barrier: id, t} once every report the cell
//                              queued before it has been sent (t: when it was taken, epoch ms)
// Out, on the same socket: envelopes {cell, batch} (harness/hosts/scripts.js). They go out in
// order, so a barrier's answer, sent after the cell's queued reports, arrives after them.
//
// The page belongs to a browser context Playwright did not create, so Playwright leaves
// it alone: no DevTools network events for every chunk and frame, no round trips through
// its driver (together about 40% of Chromium's CPU per cell).
import "./scripts.js";

const here = new URL(".", import.meta.url); // the harness's files for this run
const page = new URLSearchParams(location.hash.slice(1)).get("page");
const channel = new URL(`channel/${page}`, here);
channel.protocol = here.protocol === "https:" ? "wss:" : "ws:"; // as the hub serves

const running = new Map(); // cell -> its AbortController

const start = ({ cell, script, function: name, modules, cfg }) => {
  const controller = new AbortController();
  running.set(cell, controller);
  const run = async (...args) => {
    for (const [global, file] of Object.entries(modules ?? {})) {
      window[global] ??= await import(new URL(file, here));
    }
    await import(new URL(script, here));
    if (typeof window[name] !== "function") throw new Error(`${script} defines no ${name}`);
    return window[name](...args);
  };
  streamcompatRunCell(run, { ...cfg, cell }, controller.signal).finally(() => {
    running.delete(cell);
    globalThis.__streamcompat({ cell, finished: true });
  });
};

const ops = {
  start,
  stop: ({ cell }) => running.get(cell)?.abort(),
  abort: ({ cell }) => streamcompatAbort(cell, running.get(cell)),
  barrier: ({ cell, id }) => {
    const t = performance.timeOrigin + performance.now(); // taken now: reports before it are queued
    streamcompatBarrier(cell).then(() => globalThis.__streamcompat({ cell, barrier: id, t }));
  },
};
const receive = (text) => {
  const message = JSON.parse(text);
  ops[message.op]?.(message);
};

const socket = new WebSocket(channel);
globalThis.__streamcompat = (envelope) => socket.send(JSON.stringify(envelope));
socket.onmessage = ({ data }) => receive(data);
