// A page's report channel (harness/scripts.js): a WebSocket straight to the harness,
// not Playwright's binding, whose every call crosses DevTools and Playwright's driver
// (tens of milliseconds each on a busy machine). Envelopes go out in order on one
// socket, so a barrier's answer, sent after the cell's queued reports, arrives after
// them too. Resolves once the socket is open.
(url) => new Promise((resolve, reject) => {
  const socket = new WebSocket(url);
  const send = (message) => socket.send(JSON.stringify(message));
  globalThis.__streamcompat = send;
  socket.onmessage = (event) => {
    const { op, cell, id } = JSON.parse(event.data);
    if (op === "barrier") streamcompatBarrier(cell).then(() => send({ cell, barrier: id }));
  };
  socket.onopen = () => resolve();
  socket.onerror = () => reject(new Error(`the report channel ${url} did not open`));
})
