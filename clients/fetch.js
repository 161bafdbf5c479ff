// fetch() + body.getReader() + a streaming TextDecoder: what chat front-ends write. The
// same lines run in Chromium (browser-fetch) and in the Node host (node-fetch, undici).
globalThis.streamcompatFetch = async (cfg, report, signal) => {
  const response = await streamcompatFetchCell(cfg, report, signal);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
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
