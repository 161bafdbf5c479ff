// The browser's native EventSource (GET only), closed on the variant's end marker.
// Tokens come as events of the variant's type (onmessage for "message", else
// addEventListener, as its users write). Resolves to null on an end, or to the
// error message a user would see.
window.streamcompatEventSource = (cfg) => new Promise((resolve) => {
  const report = window.streamcompatReporter(cfg.cell);
  report({ kind: "request" });
  const source = new EventSource(cfg.url);
  let opened = false;
  let finished = false;
  const finish = async (error, end) => {
    if (finished) return;
    finished = true;
    source.close(); // otherwise it reconnects (and replays) forever
    if (end) await report(end);
    resolve(error);
  };
  source.onopen = () => {
    opened = true;
    report({ kind: "open", status: 200, contentType: "text/event-stream" });
  };
  source.addEventListener(cfg.event, (event) => {
    if (cfg.endData !== null && event.data === cfg.endData) {
      finish(null, { kind: "end", note: "end data" });
    } else {
      report({ kind: "unit", payload: event.data });
    }
  });
  source.addEventListener(cfg.endEvent, () => finish(null, { kind: "end", note: "end event" }));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      finish("EventSource failed and closed: the response was refused (status or content type)");
    } else if (!opened) {
      finish("EventSource could not connect (it would keep retrying)");
    } else {
      // The body ended without an end marker: EventSource would reconnect and replay.
      finish(null, { kind: "end", note: "no end marker; EventSource would reconnect", replays: true });
    }
  };
});
