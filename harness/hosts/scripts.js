// The report protocol of script clients, one file for both runtimes: added to every
// browser page as a classic script, imported by the Node host (harness/hosts/node_host.mjs)
// for its side effects, so it has no import or export. harness/hosts/scripts.py is its
// Python end.
//
// A cell runs as streamcompatRunCell(fn, cfg, signal): fn(cfg, report, signal) reports
// what its user would see, as messages {kind, t, ...}:
//   request · open {status, contentType} · unit {payload} · end {note, replays}
//   error {message}  (the one error channel: whatever fn throws, or an error of its own)
//   aborted  (the abort scenario: the user stopped it, see streamcompatAbort)
//   protocol {protocol, sent}  (the HTTP version the request used, and when it was put
//   on a connection, epoch ms, once the runtime tells: after the cell's last report,
//   which it follows; see spoken)
// t is when it happened, epoch ms (performance.timeOrigin + performance.now()). A cell's
// first end, error or aborted is its last message. The messages of one task travel together, as
// one envelope {cell, batch} through globalThis.__streamcompat: the page's Playwright
// binding, or a line on the Node host's stdout. (Under a splitting network a reader
// yields hundreds of tiny chunks: a call each would flood the channel and delay the
// harness's view of the client by seconds.)
(() => {
  const later = typeof setImmediate === "function" ? setImmediate : (fn) => setTimeout(fn, 0);
  const cells = new Map(); // cell -> its running reporter
  // A page runs cell after cell: keep every request's timing entry, not the first 250.
  performance.setResourceTimingBufferSize?.(100000);
  const PROTOCOL_BOUND_MS = 1000;

  // The cell request's resource timing entry: the HTTP version it used (ALPN's word:
  // h2, http/1.1) and when it was put on a connection (requestStart; a request the
  // browser queued for a connection starts late). A browser adds the entry once the body
  // is over or the request closed (an EventSource: by its next task), hence the wait for
  // it, bounded; Node's entries name no version, and nothing is said where none comes.
  const timing = (url, since) => new Promise((resolve) => {
    let name;
    try {
      name = new URL(url, globalThis.location?.href).href;
    } catch {
      return resolve(null);
    }
    const find = () => performance.getEntriesByName(name, "resource").find((e) => e.startTime >= since);
    const entry = find();
    if (entry || typeof PerformanceObserver !== "function" || typeof document === "undefined") {
      return resolve(entry ?? null);
    }
    const observer = new PerformanceObserver(() => {
      const found = find();
      if (found) done(found);
    });
    const timer = setTimeout(() => done(null), PROTOCOL_BOUND_MS);
    const done = (found) => {
      observer.disconnect();
      clearTimeout(timer);
      resolve(found);
    };
    observer.observe({ type: "resource" });
  });

  const send = (envelope) => {
    try {
      // A send that fails means the harness is done with the cell: nothing to redo.
      return Promise.resolve(globalThis.__streamcompat(envelope)).catch(() => {});
    } catch {
      return Promise.resolve();
    }
  };

  const reporter = (cell) => {
    let queue = [];
    let scheduled = false;
    let over = false;
    let delivered = Promise.resolve(); // settles once every batch sent so far is delivered
    const flush = () => {
      scheduled = false;
      if (queue.length) {
        const batch = queue;
        queue = [];
        delivered = Promise.all([delivered, send({ cell, batch })]);
      }
      return delivered;
    };
    const report = (message) => {
      if (message.kind === "protocol") {
        queue.push({ t: performance.timeOrigin + performance.now(), ...message });
        return; // not something the user sees: it may follow the last report
      }
      if (over) return;
      queue.push({ t: performance.timeOrigin + performance.now(), ...message });
      if (message.kind === "end" || message.kind === "error" || message.kind === "aborted") {
        over = true;
        flush();
      } else if (!scheduled) {
        scheduled = true;
        later(flush);
      }
    };
    return { report, flush };
  };

  // The message a user of the library would see, with the cause Node hides in `cause`.
  globalThis.streamcompatDescribe = (error) =>
    error?.cause ? `${error}: ${error.cause.message ?? error.cause}` : String(error?.message ?? error);

  // Run one cell's function; resolves once its last report is delivered. An aborted
  // cell (the harness is done with it) reports nothing more.
  globalThis.streamcompatRunCell = async (fn, cfg, signal = new AbortController().signal) => {
    const { report, flush } = reporter(cfg.cell);
    cells.set(cfg.cell, { report, flush });
    const since = performance.now();
    const aborted = new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    try {
      // The keep-alive scenario: a first request, read whole, so that its connection is
      // idle in the runtime's pool when the cell's own goes out (a chat page's earlier
      // request); the server says which connection each came on.
      if (cfg.firstUrl) await (await fetch(cfg.firstUrl, { signal, cache: "no-store" })).text();
      await Promise.race([fn(cfg, report, signal), aborted]);
      if (!signal.aborted) report({ kind: "error", message: "the client returned without reporting an end" });
    } catch (error) {
      if (!signal.aborted) report({ kind: "error", message: streamcompatDescribe(error) });
    } finally {
      const entry = signal.aborted ? null : await timing(cfg.url, since);
      if (entry?.nextHopProtocol) {
        const sent = entry.requestStart ? performance.timeOrigin + entry.requestStart : 0;
        report({ kind: "protocol", protocol: entry.nextHopProtocol, sent });
      }
      await flush();
      cells.delete(cfg.cell); // only now: a barrier meanwhile waits for this last flush
    }
  };

  // The abort scenario: the user stops the stream the way its client is stopped, through
  // the cell's AbortController (fetch's signal; EventSource.close() and axios' destroy()
  // listen to it), and the cell then says it has left.
  globalThis.streamcompatAbort = (cell, controller) => {
    if (!controller) return;
    controller.abort();
    cells.get(cell)?.report({ kind: "aborted" });
  };

  // A report barrier: resolves once every report the cell queued so far is delivered.
  globalThis.streamcompatBarrier = (cell) => cells.get(cell)?.flush() ?? Promise.resolve();

  // An error caught outside the cell's function (the Node host's uncaught errors).
  globalThis.streamcompatFail = (cell, error) =>
    cells.get(cell)?.report({ kind: "error", message: streamcompatDescribe(error) });

  // The end-marker rule of SSE clients' users (clients/events.py is its Python twin):
  // show the data of the variant's token events; at its end marker (an end event, or
  // end data such as OpenAI's [DONE]) report the end instead, and return true; at an
  // error event (langserve's report of a failure), throw.
  globalThis.streamcompatShow = (cfg, report, type, data) => {
    if (type === "error") throw new Error(`the server sent an error event: ${data}`);
    if (type === cfg.endEvent) {
      report({ kind: "end", note: "end event" });
      return true;
    }
    if (type !== cfg.event) return false;
    if (cfg.endData !== null && data === cfg.endData) {
      report({ kind: "end", note: "end data" });
      return true;
    }
    report({ kind: "unit", payload: data });
    return false;
  };

  // The body ended before the end marker. EventSource would reconnect and replay it all.
  globalThis.streamcompatNoEndMarker = (report, reconnects) =>
    report(reconnects
      ? { kind: "end", note: "no end marker; EventSource would reconnect", replays: true }
      : { kind: "end", note: "the body ended without an end marker" });

  // What fetch's users write to show a body as it comes: its ReadableStream read to the
  // end, each read decoded by a streaming TextDecoder (UTF-8; {stream: true} keeps a
  // sequence split across reads whole) and shown; then the end.
  globalThis.streamcompatShowText = async (body, report) => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (text) report({ kind: "unit", payload: text });
    }
    const tail = decoder.decode();
    if (tail) report({ kind: "unit", payload: tail });
    report({ kind: "end" });
  };

  // The request every fetch-based client makes: POST with the JSON body, or GET;
  // reports when it goes out and when the response head arrives.
  globalThis.streamcompatFetchCell = async (cfg, report, signal) => {
    const init = cfg.method === "POST"
      ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cfg.body) }
      : {};
    report({ kind: "request" });
    const response = await fetch(cfg.url, { ...init, signal });
    report({ kind: "open", status: response.status, contentType: response.headers.get("content-type") ?? "" });
    return response;
  };
})();
