// The AI SDK's chat client as a front end runs it, headless: AbstractChat, which
// @ai-sdk/react's useChat (and the Vue, Svelte and Angular bindings) wrap around their
// framework's state, here around plain fields, with the transport for each stream
// protocol: DefaultChatTransport (UI message stream) or TextStreamChatTransport (plain
// text). chat.sendMessage({text}) posts {id, messages, trigger, messageId} plus the
// transport's body (the stream id and prompt, as apps send a session id); the page shows
// the assistant message's text each time the chat replaces it: what it adds is a unit.
import { AbstractChat, DefaultChatTransport, TextStreamChatTransport } from "ai";

// What a binding keeps in its framework's reactive state; the chat writes through these.
class ShownState {
  constructor(render) {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
    this.render = render;
  }
  pushMessage(message) {
    this.messages = [...this.messages, message];
    this.render(message);
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = this.messages.map((m, i) => (i === index ? message : m));
    this.render(message);
  }
  snapshot(thing) {
    return structuredClone(thing); // as @ai-sdk/react's: each render gets its own copy
  }
}

class HeadlessChat extends AbstractChat {
  constructor({ render, ...init }) {
    super({ ...init, state: new ShownState(render) });
  }
}

const run = (Transport) => async (cfg, report, signal) => {
  let shown = "";
  const render = (message) => {
    if (message.role !== "assistant") return;
    const text = message.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
    if (!text.startsWith(shown)) throw new Error(`the message's text was rewritten: ${JSON.stringify(text.slice(0, 60))}`);
    if (text.length > shown.length) report({ kind: "unit", payload: text.slice(shown.length) });
    shown = text;
  };
  // An app's own fetch (the transports take one, as middleware): it sees the response head.
  const fetchReporting = async (url, init) => {
    report({ kind: "request" });
    const response = await fetch(url, init);
    report({ kind: "open", status: response.status, contentType: response.headers.get("content-type") ?? "" });
    return response;
  };
  const transport = new Transport({ api: cfg.url, body: cfg.body, fetch: fetchReporting });
  const chat = new HeadlessChat({ transport, render });
  signal.addEventListener("abort", () => chat.stop(), { once: true }); // the stop button
  await chat.sendMessage({ text: cfg.body.prompt ?? "" });
  if (signal.aborted) return; // stopped: not the stream's end
  // The chat does not throw: it keeps the error in its state, where the page shows it.
  if (chat.status === "error") throw chat.error;
  report({ kind: "end" });
};

globalThis.streamcompatAiUi = run(DefaultChatTransport);
globalThis.streamcompatAiText = run(TextStreamChatTransport);
