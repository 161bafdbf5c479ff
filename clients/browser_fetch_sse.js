// fetch() (a POST with a JSON body) + eventsource-parser, the SSE parser LLM front-ends
// ship (the Vercel AI SDK among them), fed by a streaming TextDecoder. The parser is the
// npm package's own ESM build, imported into the page as window.EventSourceParser.
// Like EventSource users, it shows the data of the variant's token events and stops at
// its end marker (streamcompatShow).
window.streamcompatFetchSse = async (cfg, report, signal) => {
  const response = await streamcompatFetchCell(cfg, report, signal);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  let ended = false;
  const parser = window.EventSourceParser.createParser({
    onEvent: (event) => {
      if (!ended) ended = streamcompatShow(cfg, report, event.event || "message", event.data);
    },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
  while (!ended) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  if (ended) {
    await reader.cancel(); // the user stops reading at the end marker
    return;
  }
  parser.feed(decoder.decode());
  if (!ended) streamcompatNoEndMarker(report, false);
};
