// Node's built-in fetch() + body.getReader() + a streaming TextDecoder.
import { cfg, main, report } from "./report.mjs";

await main(async () => {
  const init = cfg.method === "POST"
    ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cfg.body) }
    : {};
  report("request");
  const response = await fetch(cfg.url, init);
  report("open", { status: response.status, contentType: response.headers.get("content-type") ?? "" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    if (text) report("unit", { payload: text });
  }
  const tail = decoder.decode();
  if (tail) report("unit", { payload: tail });
  report("end");
});
