// EventSource (GET only), closed on the variant's end marker (streamcompatShow). The
// same lines run in Chromium (its native EventSource) and in the Node host (the
// `eventsource` package, clients/node/eventsource.mjs). Tokens come as events of the
// variant's type: onmessage for "message", else addEventListener, as its users write.
globalThis.streamcompatEventSource = (cfg, report, signal) => new Promise((resolve, reject) => {
  report({ kind: "request" });
  const source = new EventSource(cfg.url); // in Node, the package's (globalThis.EventSource)
  signal.addEventListener("abort", () => source.close(), { once: true });
  let opened = false;
  const finish = (error) => {
    source.close(); // otherwise it reconnects (and replays) forever
    if (error) reject(new Error(error));
    else resolve();
  };
  source.onopen = () => {
    opened = true; // fires only on HTTP 200 text/event-stream
    report({ kind: "open", status: 200, contentType: "text/event-stream" });
  };
  const onEvent = (event) => {
    if (streamcompatShow(cfg, report, event.type, event.data)) finish(null);
  };
  if (cfg.event === "message") source.onmessage = onEvent;
  else source.addEventListener(cfg.event, onEvent);
  source.addEventListener(cfg.endEvent, onEvent);
  source.onerror = (event) => {
    if (typeof event.data === "string") {
      // An `event: error` from the server (langserve's report of a failure) comes here
      // too, as a MessageEvent: its users read its data.
      finish(`the server sent an error event: ${event.data}`);
    } else if (source.readyState === EventSource.CLOSED) {
      finish(`EventSource failed and closed: ${event.message ?? "the response was refused (status or content type)"}`);
    } else if (!opened) {
      finish(`EventSource could not connect (it would keep retrying)${event.message ? `: ${event.message}` : ""}`);
    } else {
      streamcompatNoEndMarker(report, true); // the body ended: EventSource would reconnect
      finish(null);
    }
  };
});
