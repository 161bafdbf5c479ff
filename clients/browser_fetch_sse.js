// fetch() (a POST with a JSON body) + eventsource-parser, the SSE parser LLM front-ends
// ship (the Vercel AI SDK among them), fed by a streaming TextDecoder. The parser is the
// npm package's own ESM build, imported into the page as window.EventSourceParser.
// Like EventSource users, it shows the data of the variant's token events and stops at
// its end marker. Resolves to null on a clean end, or to the error message a user would see.
window.streamcompatFetchSse = async (cfg) => {
  const report = window.streamcompatReporter(cfg.cell);
  try {
    const response = await window.streamcompatFetchCell(cfg, report);
    if (!response.ok) return `HTTP ${response.status}`;
    let end = null;
    const parser = window.EventSourceParser.createParser({
      onEvent: (event) => {
        const type = event.event || "message";
        if (end) return;
        if (type === cfg.endEvent) end = { kind: "end", note: "end event" };
        else if (type !== cfg.event) return;
        else if (cfg.endData !== null && event.data === cfg.endData) end = { kind: "end", note: "end data" };
        else report({ kind: "unit", payload: event.data });
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
    while (!end) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    if (end) await reader.cancel(); // the user stops reading at the end marker
    else parser.feed(decoder.decode());
    await report(end || { kind: "end", note: "the body ended without an end marker" });
    return null;
  } catch (error) {
    return String(error);
  }
};
