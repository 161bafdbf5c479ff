// fetch() + body.getReader() + a streaming TextDecoder: what chat front-ends write.
// Resolves to null on a clean end, or to the error message a user would see.
window.streamcompatFetch = async (cfg) => {
  const report = window.streamcompatReporter(cfg.cell);
  try {
    const response = await window.streamcompatFetchCell(cfg, report);
    if (!response.ok) return `HTTP ${response.status}`;
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
    await report({ kind: "end" }); // awaited: every earlier report is delivered before we resolve
    return null;
  } catch (error) {
    return String(error);
  }
};
