// axios in Node with responseType "stream": response.data.on("data") + a streaming TextDecoder.
import axios from "axios";

globalThis.streamcompatAxios = async (cfg, report, signal) => {
  report({ kind: "request" });
  const data = cfg.method === "POST" ? cfg.body : undefined; // axios sends it as JSON
  let response;
  try {
    response = await axios({ method: cfg.method, url: cfg.url, data, responseType: "stream", signal });
  } catch (error) {
    // axios rejects a non-2xx status; its user still got a response.
    if (error.response) report({ kind: "open", status: error.response.status, contentType: error.response.headers["content-type"] ?? "" });
    throw error;
  }
  report({ kind: "open", status: response.status, contentType: response.headers["content-type"] ?? "" });
  // Node's http module, axios' adapter here: the IncomingMessage says its version.
  if (response.data.httpVersion) report({ kind: "protocol", protocol: `http/${response.data.httpVersion}` });
  const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
  await new Promise((resolve, reject) => {
    signal.addEventListener("abort", () => response.data.destroy(), { once: true });
    response.data.on("data", (chunk) => {
      const text = decoder.decode(chunk, { stream: true });
      if (text) report({ kind: "unit", payload: text });
    });
    response.data.on("end", resolve);
    response.data.on("error", reject);
  });
  const tail = decoder.decode();
  if (tail) report({ kind: "unit", payload: tail });
  report({ kind: "end" });
};
