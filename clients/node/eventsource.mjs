// The `eventsource` package (GET only), closed on the variant's end marker; the same
// rules as the browser's EventSource (clients/browser_eventsource.js). Tokens come as
// events of the variant's type: onmessage for "message", else addEventListener.
import { EventSource } from "eventsource";
import { cfg, main, report } from "./report.mjs";

await main(() => new Promise((resolve, reject) => {
  report("request");
  const source = new EventSource(cfg.url);
  let opened = false;
  let finished = false;
  const finish = (error, end) => {
    if (finished) return;
    finished = true;
    source.close(); // otherwise it reconnects (and replays) forever
    if (error) reject(new Error(error));
    else resolve(report("end", end));
  };
  source.onopen = () => {
    opened = true; // fires only on HTTP 200 text/event-stream
    report("open", { status: 200, contentType: "text/event-stream" });
  };
  const onToken = (event) => {
    if (finished) return;
    if (cfg.endData !== null && event.data === cfg.endData) finish(null, { note: "end data" });
    else report("unit", { payload: event.data });
  };
  if (cfg.event === "message") source.onmessage = onToken;
  else source.addEventListener(cfg.event, onToken);
  source.addEventListener(cfg.endEvent, () => finish(null, { note: "end event" }));
  source.onerror = (event) => {
    if (source.readyState === EventSource.CLOSED) {
      finish(`EventSource failed and closed: ${event.message ?? "the response was refused"}`);
    } else if (!opened) {
      finish(`EventSource could not connect (it would keep retrying): ${event.message ?? "no response"}`);
    } else {
      // The body ended without an end marker: EventSource would reconnect and replay.
      finish(null, { note: "no end marker; EventSource would reconnect", replays: true });
    }
  };
}));
