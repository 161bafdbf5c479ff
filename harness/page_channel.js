// A page's report channel (harness/scripts.js): a WebSocket straight to the harness, not
// Playwright's binding, whose every call crosses DevTools and Playwright's driver (tens of
// milliseconds each on a busy machine). The socket belongs to a shared worker of the
// page's own: Playwright watches the network of pages and their dedicated workers, so a
// page's socket would send every report twice more, as a DevTools frame event through
// Playwright's driver to the harness's Playwright client; shared workers it leaves alone.
// Envelopes go out in order (port, then socket), so a barrier's answer, sent after the
// cell's queued reports, arrives after them too. Resolves once the socket is open.
(url) => new Promise((resolve, reject) => {
  const failed = () => reject(new Error(`the report channel ${url} did not open`));
  // What the harness asks of the page: a report barrier, answered after the queued reports.
  const answer = ({ op, cell, id }) => {
    if (op === "barrier") streamcompatBarrier(cell).then(() => globalThis.__streamcompat({ cell, barrier: id }));
  };
  if (typeof SharedWorker === "undefined") {
    // No shared workers in this browser: the page's own socket (reports cost more).
    const socket = new WebSocket(url);
    globalThis.__streamcompat = (message) => socket.send(JSON.stringify(message));
    socket.onmessage = (event) => answer(JSON.parse(event.data));
    socket.onopen = () => resolve();
    socket.onerror = failed;
    return;
  }
  const relay = `onconnect = ({ ports: [port] }) => {
    const socket = new WebSocket(${JSON.stringify(url)});
    socket.onopen = () => port.postMessage({ open: true });
    socket.onerror = () => port.postMessage({ failed: true });
    socket.onmessage = (event) => port.postMessage({ data: event.data });
    port.onmessage = (event) => socket.send(event.data);
  };`;
  const source = URL.createObjectURL(new Blob([relay], { type: "text/javascript" }));
  const worker = new SharedWorker(source);
  globalThis.__streamcompat = (message) => worker.port.postMessage(JSON.stringify(message));
  worker.onerror = failed;
  worker.port.onmessage = ({ data }) => {
    if (data.open) {
      URL.revokeObjectURL(source);
      resolve();
    } else if (data.failed) failed();
    else answer(JSON.parse(data.data));
  };
})
