// openai-node: chat.completions.create({stream: true}) read with for await, as its README
// shows. baseURL is the variant's URL (the SDK posts to {baseURL}/chat/completions); the
// stream id goes in the query, as the body's "stream" is the SDK's flag. No retries: a
// retry would open a second stream under the same id.
import OpenAI from "openai";

globalThis.streamcompatOpenAI = async (cfg, report, signal) => {
  const client = new OpenAI({ baseURL: cfg.url.split("?")[0], apiKey: "x", maxRetries: 0 });
  report({ kind: "request" });
  let stream, response;
  try {
    ({ data: stream, response } = await client.chat.completions
      .create(
        { model: "streamcompat", messages: [{ role: "user", content: cfg.body.prompt ?? "" }], stream: true },
        { query: { stream: cfg.body.stream ?? cfg.cell }, signal },
      )
      .withResponse());
  } catch (error) {
    // The SDK throws an APIError on a non-2xx head; its user still got a response.
    if (error instanceof OpenAI.APIError && error.status) {
      report({ kind: "open", status: error.status, contentType: error.headers?.get("content-type") ?? "" });
    }
    throw error;
  }
  report({ kind: "open", status: response.status, contentType: response.headers.get("content-type") ?? "" });
  for await (const chunk of stream) {
    // What its users print is chunk.choices[0]?.delta?.content: the chunk goes as JSON to
    // the openai codec, which reads exactly that. Chunks without choices (Azure's
    // content-filter preamble, usage) show nothing, as with the Python SDK's driver.
    if (chunk.choices?.length) report({ kind: "unit", payload: JSON.stringify(chunk) });
  }
  // An abort ends the SDK's iteration quietly: that is not the stream's end.
  if (!signal.aborted) report({ kind: "end" });
};
